"""The app the way a Hugging Face Space runs it: the deploy set (`demo.deploy`) assembled into a
fresh folder, `python app.py` started there with the Space's environment variables and nothing
else: no data directory, no GPU, no ../shared, no checkout beside it. Then ZeroGPU: the scoring
functions run under `spaces.GPU` only when that package is importable."""
from __future__ import annotations

import sys
import types

import pandas as pd
import pytest

pytest.importorskip("gradio")


from demo import deploy  # noqa: E402
from demo.app_testing import free_port, local_client, run_app_py, serve, space_env  # noqa: E402
from demo.gpu import on_gpu  # noqa: E402


def rows(table: dict) -> list[dict]:
    table = table["value"] if "headers" not in table and "value" in table else table
    return [dict(zip(table["headers"], r)) for r in table["data"]]


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    files, problems = deploy.deploy_set()
    assert not problems, problems
    folder = deploy.assemble(files, tmp_path_factory.mktemp("space") / "app")
    assert not (folder / "tests").exists() and not (folder / "data").exists()
    assert not (folder.parent / "shared").exists()
    port = free_port()
    env = {**space_env(port), "MINIBERT_THREADS": "1"}
    with run_app_py(folder, env, port, timeout=180) as (url, lines, _):
        yield folder, url, lines


@pytest.mark.slow
@pytest.mark.subprocess
def test_the_deployed_app_scores_a_sentence_on_every_variant(space):
    folder, url, lines = space
    names = sorted(p.name for p in (folder / "checkpoints").iterdir() if p.is_dir())
    assert names, "the deploy set ships no checkpoint"
    out = "".join(lines)
    assert f"{len(names)} variant(s) from checkpoints on cpu" in out, out
    assert "could not load" not in out, out
    client = local_client(url)
    summary, _, table, *_ = client.predict("Sentiment", "A gripping, beautifully acted film.", "", names,
                                           api_name="/compare")
    assert sorted(r["variant"] for r in rows(table)) == names
    assert "**Sentiment**" in summary


@pytest.mark.slow
@pytest.mark.subprocess
def test_the_deployed_app_shows_dev_false_positives_with_their_text(space):
    folder, url, lines = space
    out = "".join(lines)
    assert "analysis:" not in out, out  # no problem with the shipped tables or examples
    examples = pd.read_parquet(folder / "analysis" / "tables" / "examples" / "quora.parquet")
    by_id = examples.set_index("id")
    client = local_client(url)
    variant = sorted(p.name for p in (folder / "checkpoints").iterdir() if p.is_dir())[0]
    shown, line, *_ = client.predict("Paraphrase (Quora)", variant, "false positives", "", 0, 0, "(none)",
                                     "disagree with it", "(none)", "", api_name="/errors")
    got = rows(shown)
    assert got and "rows" in line
    for r in got[:50]:
        assert r["gold"] == "not duplicate" and r["P(duplicate)"] >= 0.5
        example = by_id.loc[r["id"]]
        assert example["gold"] == 0 and r["sentence 1"].strip()
        assert (r["sentence 1"], r["sentence 2"]) == (example["sentence1"], example["sentence2"])


# --- ZeroGPU ---------------------------------------------------------------------------------------


def test_without_spaces_the_functions_are_unchanged(monkeypatch):
    monkeypatch.setitem(sys.modules, "spaces", None)  # makes `import spaces` raise ImportError

    def f():
        return 1

    assert on_gpu(f) is f


@pytest.fixture()
def fake_spaces(monkeypatch):
    """A stand-in for the `spaces` package that records what runs under its GPU decorator."""
    calls: list[str] = []
    module = types.ModuleType("spaces")

    def GPU(fn, duration=None):
        def wrapped(*args, **kwargs):
            calls.append(fn.__name__)
            return fn(*args, **kwargs)
        return wrapped

    module.GPU = GPU
    monkeypatch.setitem(sys.modules, "spaces", module)
    return calls


@pytest.mark.slow
def test_scoring_and_attributions_run_under_spaces_gpu(fake_spaces, copy_world):
    from demo.context import load_context

    world = copy_world(broken=False)
    ctx = load_context(world["checkpoints"], world["tables"], world["data"], device="cpu")
    with serve(ctx) as (url, _):
        client = local_client(url)
        _, _, table, *_ = client.predict("Sentiment", "a fine film", "", list(ctx.variants), api_name="/compare")
        assert len(rows(table)) == len(ctx.variants)
        assert fake_spaces == ["compare_on_device"]
        html = client.predict([ctx.model_names()[0]], "Sentiment", "gradient × input", "a fine film", "",
                              api_name="/explain")
        assert "attr" in html and fake_spaces == ["compare_on_device", "explain_on_device"]


def test_on_gpu_hardware_the_models_are_loaded_on_cuda(monkeypatch, tmp_path):
    import torch

    import demo.context as context

    seen = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(context, "load_variants", lambda folder, device: seen.append(device) or ({}, []))
    ctx = context.load_context(tmp_path, with_analysis=False)
    assert seen == ["cuda"] and ctx.device == "cuda"
