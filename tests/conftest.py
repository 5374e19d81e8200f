import fcntl
import functools
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from minibert.settings import settings

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Feature caches written by tests go to a scratch folder, not the repository's cache/.
os.environ.setdefault("MINIBERT_CACHE", tempfile.mkdtemp(prefix="minibert-test-cache-"))
# Gradio keeps uploads in folders named by their content: test sessions running at once on one
# machine would share (and sweep) each other's copies of the same test file. One folder each.
os.environ.setdefault("GRADIO_TEMP_DIR", tempfile.mkdtemp(prefix="minibert-test-gradio-"))
# The app opens its findings database at start: tests' apps write to a scratch file, never to the
# repository's findings.sqlite.
os.environ.setdefault("MINIBERT_DB_URL", f"sqlite:///{tempfile.mkdtemp(prefix='minibert-test-findings-')}/findings.sqlite")
# pytest-xdist's workers inherit the controller's environment, so the folders and the database
# above would be shared by every worker: each worker takes its own. Each worker also keeps to one
# thread (torch, BLAS, numba): the workers are already one per core, and threads of theirs would
# only take turns with the other worker's.
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    for variable in ("MINIBERT_CACHE", "GRADIO_TEMP_DIR"):
        os.environ[variable] = str(Path(os.environ[variable], worker))
        Path(os.environ[variable]).mkdir(parents=True, exist_ok=True)
    if "minibert-test-findings-" in os.environ["MINIBERT_DB_URL"]:
        os.environ["MINIBERT_DB_URL"] = os.environ["MINIBERT_DB_URL"].replace("findings.sqlite", f"findings-{worker}.sqlite")


WHOLE_SUITE = ("", "not slow")  # the full suite and the fast lane


def whole_suite_in_two_workers(option, args_source, environ, cores: int) -> bool:
    """Whether this pytest run is the full suite or the fast lane (`python -m pytest [-m "not slow"]`)
    in a process that may use two cores, and not itself a pytest-xdist worker (nor started by one:
    a process a test starts inherits PYTEST_XDIST_WORKER), so that it gets two workers."""
    return (not environ.get("PYTEST_XDIST_WORKER") and " ".join((option.markexpr or "").split()) in WHOLE_SUITE
            and args_source is pytest.Config.ArgsSource.TESTPATHS and getattr(option, "numprocesses", 0) is None
            and option.dist == "no" and not option.usepdb and option.capture != "no" and not option.collectonly
            and not getattr(option, "keyword", "") and cores >= 2)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which reads the choice made here
def pytest_cmdline_main(config):
    """The full suite and the fast lane run in two pytest-xdist workers (`-n 2 --dist loadfile`):
    one process leaves a core idle while its tests wait on a browser, a served app or processes of
    their own (docs/BENCHMARKS.md, "Test suite"). A run naming its tests (files or `-k`), `-n`, `--pdb`,
    `-s` or `--collect-only` keeps one process; `-n 0` turns it off. A worker never starts workers of its own."""
    if hasattr(config, "workerinput") or not config.pluginmanager.hasplugin("xdist"):
        return
    if whole_suite_in_two_workers(config.option, config.args_source, os.environ, len(os.sched_getaffinity(0))):
        config.option.numprocesses, config.option.dist = 2, "loadfile"


@pytest.hookimpl(trylast=True)  # after any plugin that reorders tests
def pytest_collection_modifyitems(config, items):
    """In pytest-xdist's workers, the files with the most browser tests come first, then those with
    the most tests starting processes, then the most slow tests (the order within a file kept): the
    longest work is handed out first, so that no worker is left with a long file at the end. The
    scheduler below keeps this order."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    weight: dict[Path, list[int]] = {}
    for item in items:
        counts = weight.setdefault(item.path, [0, 0, 0])
        for k, marker in enumerate(("browser", "subprocess", "slow")):
            counts[k] -= bool(item.get_closest_marker(marker))
    items.sort(key=lambda item: weight[item.path])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`-n 2 --dist loadfile` (pytest-xdist, not the default): a test file is one worker's, except
    that the files that use the one PostgreSQL database (through tests/findings_helpers.py, which
    empties it before each test) are one unit, so that no two of them run at once."""
    if config.option.dist != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    config.option.loadscopereorder = False  # the order pytest_collection_modifyitems chose

    @functools.cache
    def unit(path: str) -> str:
        uses_postgres = path.endswith(".py") and "findings_helpers" in (config.rootpath / path).read_text()
        return "the PostgreSQL tests" if uses_postgres else path

    class OnePostgres(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit(super()._split_scope(nodeid))

    return OnePostgres(config, log)


@pytest.fixture(autouse=True)
def _settings_from_the_environment():
    """The code reads its settings once (minibert.settings); each test starts from the environment
    as it is, and what a test set ends with it (this runs after monkeypatch has undone its changes)."""
    settings.reload()
    yield
    settings.reload()


@pytest.fixture
def monkeypatch(monkeypatch):
    """pytest's monkeypatch, whose setenv and delenv also read the settings afresh: a test that
    changes a variable means the code to see it, as a fresh process would."""
    set_env, del_env = monkeypatch.setenv, monkeypatch.delenv

    def setenv(*args, **kwargs):
        set_env(*args, **kwargs)
        settings.reload()

    def delenv(*args, **kwargs):
        del_env(*args, **kwargs)
        settings.reload()

    monkeypatch.setenv, monkeypatch.delenv = setenv, delenv
    return monkeypatch


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    """A tiny backbone, tiny data and tiny checkpoints, built once per test session."""
    from minibert.testing import make_tiny_checkpoints, make_tiny_data

    root = tmp_path_factory.mktemp("tiny")
    data = make_tiny_data(root / "data")
    checkpoints = make_tiny_checkpoints(root / "checkpoints")
    return {"root": root, "data": data, "checkpoints": checkpoints, "backbone": root / "tiny-backbone"}


@pytest.fixture
def real_data_dir():
    value = os.environ.get("MINIBERT_DATA")
    if not value or not Path(value, "ids-sst-dev.csv").is_file():
        pytest.skip("real CS224N data not available (set MINIBERT_DATA to the data folder)")
    return Path(value)


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="session")
def app_world(tiny_world, tmp_path_factory):
    """The app's test world (`demo.app_testing.make_world`: the tiny checkpoints plus a broken one,
    tiny data, tables built by `analysis.build`), built once per session because the build is most
    of what an app test module used to spend before its first test. Under pytest-xdist the workers
    share one: the first to need it builds it in the run's common temporary folder while the others
    wait on the lock. Shared, so read-only: a test that changes it takes the `copy_world` fixture
    instead. Teardown fails if a test wrote into it anyway, since every later test would then read
    the changed world.

    Its embedding map is projected by `fake_projection.first_two`, not UMAP: the app's tests read
    the map's points, not how UMAP placed them, and numba compiling UMAP cost each test process
    about 11 s. UMAP itself is tested in test_embedding_map.py and by the real build in
    test_analysis_build.py."""
    from fake_projection import first_two

    import analysis.embedding_map
    from demo.app_testing import make_world

    xdist = os.environ.get("PYTEST_XDIST_WORKER") is not None
    root = tmp_path_factory.getbasetemp().parent if xdist else tmp_path_factory.mktemp("app-world-root")
    folder = root / "app-world"
    with open(root / "app-world.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (folder / "built").is_file():
            shutil.rmtree(folder, ignore_errors=True)  # half built by a worker that died
            data = shutil.copytree(tiny_world["data"], folder / "data")
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(analysis.embedding_map, "project", first_two)
                make_world(folder, {"checkpoints": tiny_world["checkpoints"], "data": data})
            (folder / "built").touch()
    world = {key: folder / key for key in ("checkpoints", "data", "tables")}
    before = {k: _digest(v) for k, v in world.items()}
    yield world
    changed = [k for k, v in before.items() if _digest(world[k]) != v]
    assert not changed, f"a test wrote into the shared app world's {changed}: use copy_world"


@pytest.fixture(scope="module")
def ctx(app_world):
    """The app's context (variants loaded, tables read) over the shared app world, once per module."""
    from demo.context import load_context

    return load_context(app_world["checkpoints"], app_world["tables"], app_world["data"], device="cpu")


@pytest.fixture
def copy_world(app_world, tmp_path):
    """`copy_world(broken=True)`: a private copy of `app_world` under tmp_path (its checkpoints and
    tables; the data stays the shared world's, which no test writes). `broken=False` leaves out the
    checkpoint that fails to load, as `make_world(..., broken=False)` does."""

    def copy(broken: bool = True) -> dict:
        world = {"data": app_world["data"]}
        for key in ("checkpoints", "tables"):
            world[key] = Path(shutil.copytree(app_world[key], tmp_path / "world" / key, symlinks=True))
        if not broken:
            shutil.rmtree(world["checkpoints"] / "broken-variant")
        return world

    return copy
