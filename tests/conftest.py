import os
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
