"""Issue 23's GPU wave (`minibert.wave`): which runs, where they go, and how a trial is set
beside its base. The wave itself is rehearsed end to end by scripts/rehearse_gpu_run.sh."""
import json
from dataclasses import replace
from pathlib import Path

import pytest

from minibert.cli import build_parser
from minibert.recipes import TRIALS, get_recipe
from minibert.reruns import METRICS
from minibert.wave import FIXED, SEEDS, WAVE, base_of, collect, run_folder, summarize, wave_runs


def test_the_wave_is_the_fix_and_every_trial_with_two_seeds_in_at_most_14_processes(tmp_path):
    assert len(WAVE) <= 14
    names = [n for n, _ in WAVE]
    assert names.count(FIXED) == 2 and all(names.count(t) == 2 for t in TRIALS)
    runs = wave_runs(tmp_path / "ckpt", tmp_path / "out", ["--epochs", "1"])
    assert len(runs) == len(WAVE)
    fix = runs[f"{FIXED}-seed{SEEDS[0]}"]
    assert fix[fix.index("--checkpoints") + 1] == str(tmp_path / "ckpt")  # the fix replaces the shipped one
    trial = runs["pcgrad-rdrop-seed11712"]
    assert trial[:4] == ["--variant", "pcgrad-rdrop", "--seed", "11712"] and "--epochs" in trial
    assert trial[trial.index("--checkpoints") + 1] == str(tmp_path / "out" / "seed11712")
    for args in runs.values():  # every run is one the CLI accepts
        build_parser().parse_args(["train", *args])
    assert {base_of(t) for t in TRIALS} == {"pcgrad", "cross-encoder"}


def _dev(overall, **others):
    return {**dict.fromkeys(METRICS, 0.5), "overall": overall, **others}


def test_a_trial_beside_its_base_by_hand():
    bases = {"pcgrad": {"n": 3, "mean": _dev(0.75), "sd": {**dict.fromkeys(METRICS, 0.0), "overall": 0.0026}},
             "cross-encoder": {"n": 1, "mean": _dev(0.745), "sd": None}}
    s = summarize({"pcgrad-rdrop": {11711: _dev(0.76), 11712: _dev(0.77)},
                   "cross-encoder-swap": {11711: _dev(0.745), 11712: _dev(0.747)}}, bases)
    v = s["pcgrad-rdrop"]["versus_base"]["overall"]
    # mean 0.765, sd 0.0070711; se = sqrt(0.0070711^2 / 2 + 0.0026^2 / 3) = 0.0052205
    assert s["pcgrad-rdrop"]["mean"]["overall"] == pytest.approx(0.765)
    assert v["diff"] == pytest.approx(0.015) and v["se"] == pytest.approx(0.0052205, abs=1e-6) and v["beyond_spread"]
    # A base with one run borrows the trial's sd: sd 0.0014142, se = sqrt(2 x 0.0014142^2 / 2 ... )
    w = s["cross-encoder-swap"]["versus_base"]["overall"]
    assert w["se"] == pytest.approx((0.0014142 ** 2 / 2 + 0.0014142 ** 2 / 1) ** 0.5, abs=1e-6)
    assert w["diff"] == pytest.approx(0.001) and not w["beyond_spread"]
    assert s["pcgrad-rdrop"]["options"] == {"rdrop_alpha": 1.0}


def _write(folder: Path, recipe, overall):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"recipe": recipe.to_dict(), "metrics": {"dev": _dev(overall)}}))


def test_collect_counts_only_finished_runs_of_the_wave_recipes(tmp_path):
    ckpt, out = tmp_path / "ckpt", tmp_path / "out"
    # The fix's first run failed: the shipped multitask-cls (no sts_bias_init) is still there.
    _write(ckpt / FIXED, replace(get_recipe(FIXED), sts_bias_init="zero"), 0.59)
    _write(run_folder(FIXED, 11712, ckpt, out) / FIXED, get_recipe(FIXED).with_overrides(seed=11712), 0.70)
    _write(run_folder("pcgrad-llrd", 11711, ckpt, out) / "pcgrad-llrd", get_recipe("pcgrad-llrd"), 0.75)
    runs = collect(ckpt, out)
    assert runs == {FIXED: {11712: _dev(0.70)}, "pcgrad-llrd": {11711: _dev(0.75)}}
