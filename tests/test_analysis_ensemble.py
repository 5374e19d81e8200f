"""Choosing an ensemble's members on dev from the prediction tables (`analysis.ensemble`)."""
from __future__ import annotations

import json
import shutil

import pytest

import analysis as A
from analysis.__main__ import main
from analysis.dev_metrics import overall
from analysis.ensemble import _Scorer, candidates_of, select_members
from analysis.synthetic import make_data_dir, make_tables

VARIANTS = ("a", "b", "c", "d", "e")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("ens")
    make_data_dir(root / "data", sizes={"sst": 300, "quora": 400, "sts": 250})
    for seed, variant in enumerate(VARIANTS):  # equally skilled, with errors of their own: averaging helps
        make_tables(root / "tables", root / "data", variants=(variant,), seed=seed)
    (root / "checkpoints").mkdir()
    return root


@pytest.fixture(scope="module")
def a(synthetic):
    return A.load(synthetic / "tables", synthetic / "data", checkpoints=False)


def test_one_member_scores_like_that_variant(a):
    table = overall(a)
    scorer = _Scorer(a, list(VARIANTS))
    for v in VARIANTS:
        step = scorer.step([v])
        assert step.sst_accuracy == pytest.approx(table.loc[v, "sst_accuracy"], abs=1e-12)
        assert step.quora_accuracy == pytest.approx(table.loc[v, "quora_accuracy"], abs=1e-12)
        assert step.sts_pearson == pytest.approx(table.loc[v, "sts_pearson"], abs=1e-6)
        assert step.overall == pytest.approx(table.loc[v, "overall"], abs=1e-6)


def test_greedy_path_starts_at_the_best_variant_and_stops_when_nothing_helps(a):
    path = select_members(a, candidates_of(a))
    table = overall(a)
    assert path[0].members == [table["overall"].idxmax()]
    assert all(later.overall > earlier.overall for earlier, later in zip(path, path[1:]))
    assert all(later.members[:-1] == earlier.members for earlier, later in zip(path, path[1:]))
    chosen = path[-1]
    scorer = _Scorer(a, list(VARIANTS))
    for c in set(VARIANTS) - set(chosen.members):
        assert scorer.step(chosen.members + [c]).overall <= chosen.overall
    # each step took the best addition available
    for earlier, later in zip(path, path[1:]):
        best = max(scorer.step(earlier.members + [c]).overall for c in set(VARIANTS) - set(earlier.members))
        assert later.overall == pytest.approx(best, abs=1e-12)
    assert len(chosen.members) >= 2
    assert select_members(a, candidates_of(a), max_members=1) == path[:1]


def test_the_simulated_mean_is_what_the_ensemble_checkpoint_predicts(tiny_world, tmp_path):
    """The tiny world's `ensemble` checkpoint averages its members at run time; its own tables,
    built by running it, must score exactly like the mean of its members' tables."""
    from demo.app_testing import make_world

    world = make_world(tmp_path, tiny_world, broken=False)
    loaded = A.load(world["tables"], world["data"], checkpoints=world["checkpoints"])
    members = json.loads((world["checkpoints"] / "ensemble" / "config.json").read_text())["recipe"]["members"]
    members = members or candidates_of(loaded, exclude=("ensemble",))
    step = _Scorer(loaded, members).step(members)
    table = overall(loaded)
    assert step.sst_accuracy == pytest.approx(table.loc["ensemble", "sst_accuracy"], abs=1e-12)
    assert step.quora_accuracy == pytest.approx(table.loc["ensemble", "quora_accuracy"], abs=1e-12)
    assert step.sts_pearson == pytest.approx(table.loc["ensemble", "sts_pearson"], abs=1e-5)


def test_cli_prints_the_path_and_writes_the_chosen_members(synthetic, a, capsys, tmp_path):
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    args = ["ensemble", "--tables", str(synthetic / "tables"), "--data-dir", str(synthetic / "data"),
            "--checkpoints", str(checkpoints)]
    assert main(args) == 0
    out = capsys.readouterr().out
    chosen = select_members(a, candidates_of(a))[-1]
    assert f"chosen on dev: {', '.join(chosen.members)}" in out and "optimistic" in out
    assert not (checkpoints / "ensemble").exists()
    assert main([*args, "--write"]) == 0
    config = json.loads((checkpoints / "ensemble" / "config.json").read_text())
    assert config["recipe"]["kind"] == "ensemble" and config["recipe"]["members"] == chosen.members
    # a variant alone that no combination beats is not written as a one-member ensemble
    shutil.rmtree(checkpoints / "ensemble")
    assert main([*args, "--write", "--max-members", "1"]) == 1
    assert "not written" in capsys.readouterr().err and not (checkpoints / "ensemble").exists()


def test_cli_refuses_stale_tables(synthetic, capsys, tmp_path):
    from minibert.testing import make_tiny_checkpoints

    checkpoints = make_tiny_checkpoints(tmp_path / "checkpoints")
    tables = tmp_path / "tables"
    shutil.copytree(synthetic / "tables", tables)
    # tables recorded under the tiny checkpoints' names but with other hashes: stale
    make_tables(tables, synthetic / "data", variants=[p.name for p in checkpoints.iterdir()
                                                       if p.name != "ensemble"], seed=1)
    assert main(["ensemble", "--tables", str(tables), "--data-dir", str(synthetic / "data"),
                 "--checkpoints", str(checkpoints)]) == 2
    assert "stale tables" in capsys.readouterr().err


def test_no_candidates_or_missing_tasks_are_clear_errors(a, tmp_path):
    with pytest.raises(ValueError, match="no candidate variants"):
        select_members(a, [])
    empty = A.load(tmp_path / "no-tables", tmp_path / "no-data", checkpoints=False)
    with pytest.raises(ValueError, match="run `python -m analysis build` first"):
        candidates_of(empty)
    assert candidates_of(a) == sorted(VARIANTS)


def test_dev_halves_are_fixed_disjoint_halves_by_id(a):
    from analysis.ensemble import dev_halves

    halves = dev_halves(a)
    for task, mask in halves.items():
        n = len(a.task(task).examples)
        assert mask.sum() == n // 2
        assert (dev_halves(a)[task] == mask).all()  # seeded: the same every time
    assert any((dev_halves(a, seed=1)[t] != halves[t]).any() for t in halves)


def test_cross_fitted_scores_each_half_with_members_chosen_on_the_other(a):
    import numpy as np

    from analysis.ensemble import _greedy, cross_fitted, dev_halves, format_cross_fit

    fit = cross_fitted(a, list(VARIANTS), n_boot=200)
    halves = dev_halves(a)
    other = {t: ~m for t, m in halves.items()}
    # members chosen on a half are the greedy choice with only that half's examples
    assert fit.chosen["A"] == _greedy(_Scorer(a, list(VARIANTS), halves), list(VARIANTS), None)[-1].members
    assert fit.chosen["B"] == _greedy(_Scorer(a, list(VARIANTS), other), list(VARIANTS), None)[-1].members
    # half B is scored with A's members exactly as a scorer of half B alone scores them
    on_b = _Scorer(a, list(VARIANTS), other).step(fit.chosen["A"])
    assert fit.held_out["B"].overall == pytest.approx(on_b.overall, abs=1e-12)
    assert fit.dev_members == select_members(a, list(VARIANTS))[-1].members
    lo, hi = fit.intervals["held_out"]
    assert lo < fit.mean(fit.held_out) < hi
    assert np.isclose(fit.mean(fit.dev_chosen), (fit.dev_chosen["A"].overall + fit.dev_chosen["B"].overall) / 2)
    text = format_cross_fit(fit)
    assert "default_rng(23)" in text and "today's minus honest" in text


def test_ensemble_command_prints_the_honest_figure(synthetic, capsys):
    rc = main(["ensemble", "--halves", "--tables", str(synthetic / "tables"), "--data-dir", str(synthetic / "data"),
               "--checkpoints", str(synthetic / "checkpoints")])
    out = capsys.readouterr().out
    assert rc == 0 and "chosen on the other half (honest)" in out and "members chosen on B" in out
