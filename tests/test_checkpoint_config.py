"""config.json read and written without torch; shipped configs survive a read and a write unchanged;
the analysis layer works where torch cannot be imported."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from minibert.checkpoint_config import (
    FORMAT,
    CheckpointConfig,
    CheckpointError,
    checkpoint_hash,
    checkpoint_hashes,
    scan_checkpoints,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for p in (ROOT / "checkpoints").glob("*") if (p / "config.json").is_file())


@pytest.mark.skipif(not SHIPPED, reason="no committed checkpoints")
def test_every_shipped_config_reads_and_writes_back_byte_for_byte(tmp_path):
    for folder in SHIPPED:
        text = (folder / "config.json").read_text()
        config = CheckpointConfig.read(folder)
        assert config.to_dict() == json.loads(text), folder.name
        assert not config.extra, folder.name
        out = tmp_path / folder.name
        out.mkdir()
        config.write(out)
        assert (out / "config.json").read_text() == text, folder.name
        if config.kind == "model":
            assert checkpoint_hash(CheckpointConfig.read(out)) == checkpoint_hash(config)


def test_unknown_keys_are_kept_and_absent_fields_stay_absent(tmp_path):
    stored = {"format": FORMAT, "recipe": {"name": "pcgrad", "lr": 5e-5}, "later": {"x": 1},
              "storage": {"files": {"model.safetensors": "aa"}}}
    (tmp_path / "config.json").write_text(json.dumps(stored))
    config = CheckpointConfig.read(tmp_path)
    assert config.extra == {"later": {"x": 1}} and config.metrics is None and config.backbone is None
    config.write(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == stored


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "a JSON object expected"),
    (json.dumps({"format": "other/1", "recipe": {}}), "format 'other/1'"),
    (json.dumps({"format": FORMAT}), "no 'recipe' field"),
])
def test_a_bad_config_names_its_file(tmp_path, text, message):
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(CheckpointError, match=message) as caught:
        CheckpointConfig.read(tmp_path)
    assert str(tmp_path / "config.json") in str(caught.value)


def test_scan_sorts_models_ensembles_and_unreadable_folders(tmp_path):
    def put(name, config):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))

    model = {"format": FORMAT, "recipe": {"name": "a"}, "storage": {"files": {"w": "11"}},
             "backbone": {"weights_sha256": "bb"}}
    put("a", model)
    put("b", {**model, "storage": {"files": {"w": "22"}}})
    put("mix", {"format": FORMAT, "recipe": {"name": "mix", "kind": "ensemble", "members": ["a", "b"]}})
    put("all", {"format": FORMAT, "recipe": {"name": "all", "kind": "ensemble", "members": []}})
    put("lost", {"format": FORMAT, "recipe": {"name": "lost", "kind": "ensemble", "members": ["a", "zz"]}})
    put("split", {"format": FORMAT, "recipe": {"name": "split", "kind": "ensemble",
                                               "members": {"sst": ["a"], "quora": ["a", "b"], "sts": ["b"]}}})
    put("gone", {"format": FORMAT, "recipe": {"name": "gone", "kind": "ensemble",
                                              "members": {"sst": ["a"], "quora": ["a"], "sts": ["yy"]}}})
    put("broken", "{")
    (tmp_path / ".a-tmp123").mkdir()  # a save in progress is no checkpoint
    scan = scan_checkpoints(tmp_path)
    assert [d.name for d, _ in scan.models] == ["a", "b"]
    assert [d.name for d, _ in scan.ensembles] == ["all", "gone", "lost", "mix", "split"]
    assert [d.name for d, _ in scan.unreadable] == ["broken"]
    hashes, problems = checkpoint_hashes(tmp_path)
    assert set(hashes) == {"a", "b", "mix", "all", "split"} and hashes["a"] != hashes["b"]
    assert any("lost" in p and "zz" in p for p in problems) and any("broken" in p for p in problems)
    assert any("gone" in p and "yy" in p for p in problems)  # a member of one task only counts too
    (tmp_path / "b" / "config.json").write_text(json.dumps({**model, "storage": {"files": {"w": "33"}}}))
    changed, _ = checkpoint_hashes(tmp_path)  # a member's new weights make every ensemble of it new
    assert changed["a"] == hashes["a"] and changed["mix"] != hashes["mix"] and changed["all"] != hashes["all"]


@pytest.mark.skipif(not (ROOT / "analysis" / "tables" / "manifest.json").is_file() or not SHIPPED,
                    reason="no committed tables and checkpoints")
@pytest.mark.slow
@pytest.mark.subprocess
def test_analysis_loads_queries_reports_and_checks_status_without_torch(tmp_path):
    """`analysis build` may import torch; reading the tables may not (the app's analysis tabs and
    `report --check` in CI need no model)."""
    shim = tmp_path / "shim"
    shim.mkdir()
    # A finder that refuses torch, as an environment without it would: a None in sys.modules would
    # also hide it, but libraries that look torch up there (scipy's array API helpers) then fail.
    (shim / "sitecustomize.py").write_text(textwrap.dedent("""
        import sys

        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is hidden by the test")
                return None

        sys.meta_path.insert(0, NoTorch())
    """))
    driver = textwrap.dedent("""
        import sys
        try:
            import torch
        except ImportError:
            pass
        else:
            raise SystemExit("the shim did not hide torch")
        import analysis as A
        from analysis.__main__ import main

        a = A.load(checkpoints="checkpoints")
        assert a.tasks and not a.problems and not a.stale, (a.problems, a.stale)
        assert len(A.errors(a, "sst")) and len(A.overall(a))
        assert main(["report", "--check"]) == 0
        assert main(["status", "--checkpoints", "checkpoints"]) == 0
        assert "torch" not in {m.split(".")[0] for m, v in sys.modules.items() if v is not None}
        print("ok")
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("MINIBERT_CHECKPOINTS", "MINIBERT_TABLES")}
    env["PYTHONPATH"] = os.pathsep.join([str(shim), str(ROOT)])
    done = subprocess.run([sys.executable, "-c", driver], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout + done.stderr


def test_ensemble_members_per_task_round_trip_and_a_single_list_means_every_task(tmp_path):
    from minibert.checkpoint import save_ensemble
    from minibert.recipes import Recipe, get_recipe

    per_task = {"sst": ["a", "c"], "quora": ["b"], "sts": ["a"]}
    save_ensemble(tmp_path / "ens", get_recipe("ensemble"), per_task, {"member_choice": {"split_half": {"overall": 0.5}}})
    stored = json.loads((tmp_path / "ens" / "config.json").read_text())
    assert stored["recipe"]["members"] == per_task and stored["training"]["member_choice"]["split_half"]["overall"] == 0.5
    config = CheckpointConfig.read(tmp_path / "ens")
    assert config.to_dict() == stored and config.ensemble_members(["x"]) == per_task
    recipe = Recipe.from_dict(stored["recipe"])
    assert json.loads(json.dumps(recipe.to_dict())) == stored["recipe"]  # read back exactly as stored
    assert "sst: a, c; quora: b; sts: a" in recipe.describe()
    # configs before issue 32: one list for every task; an empty one takes every model present
    old = CheckpointConfig.from_dict({"format": FORMAT, "recipe": {"name": "e", "kind": "ensemble", "members": ["b", "a"]}})
    assert old.ensemble_members(["x"]) == dict.fromkeys(("sst", "quora", "sts"), ["b", "a"])
    every = CheckpointConfig.from_dict({"format": FORMAT, "recipe": {"name": "e", "kind": "ensemble", "members": []}})
    assert every.ensemble_members(["x", "y"]) == dict.fromkeys(("sst", "quora", "sts"), ["x", "y"])
