"""minibert.settings: every variable with its default, its parsing and its errors; read once;
the only reader of the environment in the code; docs/SETTINGS.md generated from it."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from minibert import settings as S
from minibert.settings import Settings, SettingsError, settings

ROOT = Path(__file__).resolve().parents[1]
# Where the project's code lives. benchmarks/ set variables for the processes they start and read
# MINIBERT_DATA for their own inputs, as tests/ do: harnesses, not the code they measure.
CODE = [*sorted((ROOT / "minibert").rglob("*.py")), *sorted((ROOT / "analysis").rglob("*.py")),
        *sorted((ROOT / "findings").rglob("*.py")), *sorted((ROOT / "demo").rglob("*.py")), ROOT / "app.py"]


def test_an_empty_environment_gives_the_defaults_the_code_had_before():
    s = Settings.from_environ({})
    assert (s.data, s.checkpoints, s.tables, s.backbone, s.cache, s.runs, s.live) == (
        None, Path("checkpoints"), None, None, Path("cache"), Path("runs"), ())
    assert (s.threads, s.concurrency, s.model_concurrency, s.max_batch, s.explain_concurrency, s.queue_max) == (
        None, 4, 2, 8, 2, 64)
    assert (s.cache_sweep_s, s.cache_max_age_s, s.uploads) == (60, 300, True)
    assert (s.join_cache_bytes, s.export_max_bytes) == (128 * 2**20, 10_000_000)
    assert (s.space_id, s.cuda_visible_devices, s.world_size, s.rank, s.local_rank) == ("", (), 1, None, 0)
    assert (s.malloc_arena_max, s.malloc_mmap_threshold) == (None, None)


def test_each_variable_is_parsed_into_its_setting():
    s = Settings.from_environ({
        "MINIBERT_DATA": "/d", "MINIBERT_CHECKPOINTS": "ck", "MINIBERT_LIVE": " a:b , ,c:d",
        "MINIBERT_THREADS": "3", "MINIBERT_QUEUE_MAX": "5", "MINIBERT_JOIN_CACHE_MB": "2.5",
        "MINIBERT_EXPORT_MAX_MB": "0.002", "CUDA_VISIBLE_DEVICES": "3, 1", "WORLD_SIZE": "2", "RANK": "1",
        "MALLOC_ARENA_MAX": "4"})
    assert (s.data, s.checkpoints, s.live, s.threads, s.queue_max) == (Path("/d"), Path("ck"), ("a:b", "c:d"), 3, 5)
    assert (s.join_cache_bytes, s.export_max_bytes) == (int(2.5 * 2**20), 2000)
    assert (s.cuda_visible_devices, s.world_size, s.rank, s.malloc_arena_max) == (("3", "1"), 2, 1, "4")


@pytest.mark.parametrize(("value", "on"), [("0", False), (" OFF ", False), ("false", False), ("no", False),
                                           ("1", True), ("yes", True), ("anything", True)])
def test_uploads_are_off_only_for_the_off_words(value, on):
    assert Settings.from_environ({"MINIBERT_UPLOADS": value}).uploads is on


def test_an_empty_variable_counts_as_unset():
    s = Settings.from_environ({"MINIBERT_RUNS": "", "MINIBERT_QUEUE_MAX": "", "MINIBERT_DATA": ""})
    assert (s.runs, s.queue_max, s.data) == (Path("runs"), 64, None)


@pytest.mark.parametrize(("env", "value", "message"), [
    ("MINIBERT_JOIN_CACHE_MB", "abc", "MINIBERT_JOIN_CACHE_MB must be a number of megabytes, got 'abc'"),
    ("MINIBERT_QUEUE_MAX", "1.5", "MINIBERT_QUEUE_MAX must be a whole number of events, got '1.5'"),
    ("MINIBERT_CACHE_SWEEP_S", "1m", "MINIBERT_CACHE_SWEEP_S must be a whole number of seconds, got '1m'"),
    ("WORLD_SIZE", "two", "WORLD_SIZE must be a whole number of processes, got 'two'"),
])
def test_a_bad_value_names_the_variable_what_it_must_be_and_the_value(env, value, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_environ({env: value})


def test_the_environment_is_read_once_and_reread_on_reload(monkeypatch):
    first = settings()
    assert settings() is first
    # setitem, not setenv: this conftest's setenv rereads the settings itself
    monkeypatch.setitem(os.environ, "MINIBERT_QUEUE_MAX", "7")
    assert settings() is first  # a changed environment is not seen until a reload
    assert settings.reload().queue_max == 7 and settings().queue_max == 7
    assert settings.reload({"MINIBERT_QUEUE_MAX": "9"}).queue_max == 9


def test_the_settings_module_imports_neither_torch_nor_gradio():
    code = "import sys, minibert.settings; print(sorted({'torch', 'gradio', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def environment_reads(source: str) -> list[int]:
    """Lines of `source` that read the environment: os.environ.get / [...] / os.getenv, also as
    `from os import environ, getenv`. Building a child's environment ({**os.environ, ...}) and
    setting a variable (os.environ.setdefault / [...] = ...) are not reads of a setting."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            owner = f.value if isinstance(f, ast.Attribute) else None
            owner_name = getattr(owner, "attr", getattr(owner, "id", ""))
            if name == "getenv" or (name == "get" and owner_name == "environ"):
                lines.append(node.lineno)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            v = node.value
            if getattr(v, "attr", getattr(v, "id", "")) == "environ":
                lines.append(node.lineno)
    return lines


def test_the_environment_reads_are_found_however_they_are_written():
    source = ("import os\nfrom os import environ, getenv\na = os.environ.get('MINIBERT_X')\nb = os.getenv('X')\n"
              "c = os.environ['X']\nd = environ.get('X')\ne = getenv('X')\nos.environ['X'] = '1'\n"
              "os.environ.setdefault('X', '1')\nenv = {**os.environ, 'X': '1'}\nf = {}.get('X')\n")
    assert environment_reads(source) == [3, 4, 5, 6, 7]


def test_no_module_but_settings_reads_the_environment():
    readers = {str(path.relative_to(ROOT)): lines for path in CODE if path.name != "settings.py"
               if (lines := environment_reads(path.read_text()))}
    assert readers == {}, "read these through minibert.settings (add the variable there)"


def test_every_minibert_variable_the_code_names_is_a_setting():
    named = {m for path in CODE for m in re.findall(r"\bMINIBERT_[A-Z_]*[A-Z]\b", path.read_text())}
    known = {spec.env for spec in S.specs()}
    assert named - known == set()
    assert len([e for e in known if e.startswith("MINIBERT_")]) == 27


def test_docs_settings_is_the_generated_table():
    generated = subprocess.run([sys.executable, "-m", "minibert.settings"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout
    assert generated == S.markdown()
    assert (ROOT / "docs" / "SETTINGS.md").read_text() == generated, \
        "regenerate it: python -m minibert.settings > docs/SETTINGS.md"
    for spec in S.specs():
        assert f"| `{spec.env}` |" in generated
