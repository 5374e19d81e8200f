"""Many variants across GPUs and nodes: `train --all` gives each process a GPU of its own when
there are several, and the SLURM job-array script, its tasks run here as plain processes."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from minibert import orchestrate
from minibert.recipes import get_recipe, trainable_recipes

REPO = Path(__file__).resolve().parents[1]


class _FinishedProcess:
    returncode = 0

    def poll(self):
        return 0


def test_train_all_spreads_its_processes_one_per_visible_gpu(tmp_path, monkeypatch, capsys):
    launched = []

    def popen(cmd, env=None, **_):
        launched.append((cmd[cmd.index("--variant") + 1], (env or os.environ).get("CUDA_VISIBLE_DEVICES")))
        return _FinishedProcess()

    monkeypatch.setattr(orchestrate.subprocess, "Popen", popen)
    monkeypatch.setattr(orchestrate.time, "sleep", lambda _: None)
    # Three GPUs visible (as CUDA_VISIBLE_DEVICES=4,5,6 names them), five runs at once: one per GPU
    # first, then the least used again.
    monkeypatch.setattr(orchestrate, "visible_gpus", lambda: ["4", "5", "6"])
    runs = {f"r{i}": ["--variant", f"v{i}"] for i in range(5)}
    assert orchestrate.run_processes(runs, tmp_path, 5, 0.0) == []
    assert launched == [("v0", "4"), ("v1", "5"), ("v2", "6"), ("v3", "4"), ("v4", "5")]
    assert "started r3 on GPU 4" in capsys.readouterr().out
    # One GPU (or none): the processes share what the parent sees, as before.
    launched.clear()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    monkeypatch.setattr(orchestrate, "visible_gpus", lambda: ["7"])
    assert orchestrate.run_processes(runs, tmp_path, 2, 0.0) == []
    assert {gpu for _, gpu in launched} == {"7"} and "on GPU" not in capsys.readouterr().out


def test_visible_gpus_name_them_as_the_parent_sees_them(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    assert orchestrate.visible_gpus() == ["3", "1"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert orchestrate.visible_gpus() == ["0", "1"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert orchestrate.visible_gpus() == []


def test_array_tasks_cover_every_variant_and_seed_once(tmp_path):
    skip = {"scratch"}
    tasks = orchestrate.array_runs(3, skip)
    names = [r.name for r in trainable_recipes() if r.name not in skip]
    assert len(tasks) == 3 * len(names) and len(set(tasks)) == len(tasks)
    assert tasks[:len(names)] == [(n, get_recipe(n).seed, 0) for n in names]  # every shipped run first
    name, seed, _ = tasks[-1]
    assert orchestrate.array_task_args(len(tasks) - 1, 3, skip, tmp_path / "ck", tmp_path / "runs") == \
        ["--variant", name, "--seed", str(seed), "--checkpoints", str(tmp_path / "runs" / "seeds" / f"seed{seed}")]
    assert orchestrate.array_task_args(0, 3, skip, tmp_path / "ck", tmp_path / "runs")[-1] == str(tmp_path / "ck")


@pytest.mark.slow
@pytest.mark.subprocess
def test_the_slurm_script_s_array_tasks_then_its_finish_job(tiny_world, tmp_path):
    keep = ["frozen-mean", "cosine-mean"]
    skip = ",".join(r.name for r in trainable_recipes() if r.name not in keep)
    readme = tmp_path / "README.md"
    shutil.copy(REPO / "README.md", readme)
    ck, runs = tmp_path / "ck", tmp_path / "runs"
    env = {**os.environ, "SEEDS": "2", "SKIP": skip, "CKPT": str(ck), "TABLES": str(tmp_path / "tables"),
           "README": str(readme), "MINIBERT_RUNS": str(runs), "MINIBERT_DATA": str(tiny_world["data"]),
           "MINIBERT_BACKBONE": str(tiny_world["backbone"]), "MINIBERT_CACHE": str(tmp_path / "cache"),
           "TRAIN_ARGS": "--epochs 1 --batch-size 8 --device cpu", "PY": sys.executable, "OMP_NUM_THREADS": "1"}
    script = str(REPO / "scripts" / "slurm_train.sh")
    count = subprocess.run([sys.executable, "-m", "minibert", "array", "--count", "--seeds", "2", "--skip", skip],
                           capture_output=True, text=True, check=True, cwd=REPO)
    assert count.stdout.strip() == "4"
    # As SLURM starts them: at once, each on a node of its own, sharing the folders.
    tasks = [subprocess.Popen([script, "task"], env={**env, "SLURM_ARRAY_TASK_ID": str(task)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for task in range(4)]
    try:
        for task in tasks:
            out, _ = task.communicate(timeout=300)
            assert task.returncode == 0, out
    finally:
        for task in tasks:
            task.kill()
    seed = get_recipe("cosine-mean").seed
    assert (runs / "seeds" / f"seed{seed + 1}" / "cosine-mean" / "config.json").is_file()
    out_of_range = subprocess.run([script, "task"], env={**env, "SLURM_ARRAY_TASK_ID": "4"},
                                  capture_output=True, text=True)
    assert out_of_range.returncode != 0 and "expected 0 to 3" in out_of_range.stderr

    finish = subprocess.run([script, "finish"], env=env, capture_output=True, text=True, timeout=600)
    assert finish.returncode == 0, finish.stdout + finish.stderr
    assert "array recorded; failed: none" in finish.stdout
    for name in keep:
        record = json.loads((ck / name / "config.json").read_text())["training"]["seed_replicates"]
        assert record["seeds"] == [get_recipe(name).seed, get_recipe(name).seed + 1]
    assert (ck / "ensemble" / "config.json").is_file()
    summary = json.loads((tmp_path / "tables" / "summary.json").read_text())
    assert set(keep) <= set(summary["variants"])
    assert readme.read_text() != (REPO / "README.md").read_text()  # its results table rewritten
