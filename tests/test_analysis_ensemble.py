"""Choosing an ensemble's members on dev from the prediction tables (`analysis.ensemble`)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

import analysis as A
from analysis.__main__ import main
from analysis.dev_metrics import overall, summarize
from analysis.ensemble import _Scorer, candidates_of, cross_fitted, format_members, select_members
from analysis.synthetic import make_data_dir, make_tables
from minibert.recipes import member_union, task_members

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


def test_each_tasks_greedy_path_starts_at_its_best_head_and_stops_when_nothing_helps(a):
    selection = select_members(a, candidates_of(a))
    table = overall(a)
    scorer = _Scorer(a, list(VARIANTS))
    metric = {"sst": "sst_accuracy", "quora": "quora_accuracy", "sts": "sts_pearson"}
    for task, path in selection.paths.items():
        assert path[0].members == [table[metric[task]].idxmax()]
        assert all(later.value > earlier.value for earlier, later in zip(path, path[1:]))
        assert all(later.members[:-1] == earlier.members for earlier, later in zip(path, path[1:]))
        chosen = path[-1]
        for c in set(VARIANTS) - set(chosen.members):
            assert scorer.value(task, chosen.members + [c]) <= chosen.value
        # each step took the best addition available
        for earlier, later in zip(path, path[1:]):
            best = max(scorer.value(task, earlier.members + [c]) for c in set(VARIANTS) - set(earlier.members))
            assert later.value == pytest.approx(best, abs=1e-12)
        assert selection.members[task] == chosen.members
    assert any(len(path) >= 2 for path in selection.paths.values())
    # the chosen ensemble scores as the scorer scores those members, task by task
    assert selection.chosen.overall == pytest.approx(scorer.step(selection.members).overall, abs=1e-12)
    assert selection.chosen.sts_pearson == pytest.approx(selection.paths["sts"][-1].value, abs=1e-12)
    one = select_members(a, candidates_of(a), max_members=1)
    assert one.paths == {t: path[:1] for t, path in selection.paths.items()}


@pytest.mark.slow  # builds a copy of the app's world
def test_the_simulated_mean_is_what_the_ensemble_checkpoint_predicts(copy_world):
    """The tiny world's `ensemble` checkpoint averages its members at run time; its own tables,
    built by running it, must score exactly like the mean of its members' tables."""
    world = copy_world(broken=False)
    loaded = A.load(world["tables"], world["data"], checkpoints=world["checkpoints"])
    members = json.loads((world["checkpoints"] / "ensemble" / "config.json").read_text())["recipe"]["members"]
    members = task_members(members, candidates_of(loaded, exclude=("ensemble",)))
    step = _Scorer(loaded, member_union(members)).step(members)
    table = overall(loaded)
    assert step.sst_accuracy == pytest.approx(table.loc["ensemble", "sst_accuracy"], abs=1e-12)
    assert step.quora_accuracy == pytest.approx(table.loc["ensemble", "quora_accuracy"], abs=1e-12)
    assert step.sts_pearson == pytest.approx(table.loc["ensemble", "sts_pearson"], abs=1e-5)


def test_cli_prints_the_paths_and_writes_members_per_task_with_both_figures(synthetic, a, capsys, tmp_path):
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    args = ["ensemble", "--tables", str(synthetic / "tables"), "--data-dir", str(synthetic / "data"),
            "--checkpoints", str(checkpoints)]
    assert main(args) == 0
    out = capsys.readouterr().out
    chosen = select_members(a, candidates_of(a)).chosen
    assert f"chosen on dev: {format_members(chosen.members)}" in out and "optimistic" in out
    assert not (checkpoints / "ensemble").exists()
    assert main([*args, "--write"]) == 0
    assert "chosen on the other half (honest)" in capsys.readouterr().out  # --write records the honest figure
    config = json.loads((checkpoints / "ensemble" / "config.json").read_text())
    assert config["recipe"]["kind"] == "ensemble" and config["recipe"]["members"] == chosen.members
    record = config["training"]["member_choice"]
    assert record["dev_chosen"]["overall"] == pytest.approx(chosen.overall)
    fit = cross_fitted(a, candidates_of(a))
    assert record["split_half"]["overall"] == pytest.approx(fit.mean(fit.held_out), abs=1e-12)
    assert record["split_half"]["overall_ci"] == pytest.approx(list(fit.intervals["held_out"]))
    assert record["split_half"]["chosen"] == fit.chosen
    assert sorted(record["candidates"]) == sorted(VARIANTS)


def test_cli_writes_no_ensemble_of_one_variant(synthetic, capsys, tmp_path):
    make_data_dir(tmp_path / "data", sizes={"sst": 120, "quora": 120, "sts": 120})
    make_tables(tmp_path / "tables", tmp_path / "data", variants=("solo",))
    (tmp_path / "checkpoints").mkdir()
    assert main(["ensemble", "--write", "--tables", str(tmp_path / "tables"), "--data-dir", str(tmp_path / "data"),
                 "--checkpoints", str(tmp_path / "checkpoints")]) == 1
    assert "not written" in capsys.readouterr().err and not (tmp_path / "checkpoints" / "ensemble").exists()


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
    # members chosen on a half are each task's greedy choice with only that half's examples
    for half, keep in (("A", halves), ("B", other)):
        for task in fit.chosen[half]:
            path = _greedy(_Scorer(a, list(VARIANTS), keep), task, list(VARIANTS), None)
            assert fit.chosen[half][task] == path[-1].members
    # half B is scored with A's members exactly as a scorer of half B alone scores them
    on_b = _Scorer(a, list(VARIANTS), other).step(fit.chosen["A"])
    assert fit.held_out["B"].overall == pytest.approx(on_b.overall, abs=1e-12)
    assert fit.dev_members == select_members(a, list(VARIANTS)).members
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


@pytest.fixture(scope="module")
def with_muted_helper(synthetic, tmp_path_factory):
    """The synthetic variants plus "m", the best SST head, whose Quora head is muted (worse than
    always answering the majority class) yet would lift the Quora ensemble: it is right, with
    certainty, exactly where "a" is wrong, and barely wrong everywhere else."""
    from analysis.examples import data_identity, read_dev_split
    from analysis.tables import read_manifest, write_manifest, write_table

    root = tmp_path_factory.mktemp("muted")
    shutil.copytree(synthetic / "tables", root / "tables")
    manifest, _ = read_manifest(root / "tables")
    for task in ("sst", "quora", "sts"):
        frame, info, _ = read_dev_split(task, synthetic / "data")
        gold = frame["gold"].to_numpy()
        if task == "sst":
            probs = np.full((len(gold), 5), 0.05)
            probs[np.arange(len(gold)), gold.astype(int)] = 0.8
            columns = {"pred": gold.astype(int), **{f"p{k}": probs[:, k] for k in range(5)}}
        elif task == "quora":
            a_prob = pd.read_parquet(root / "tables" / "predictions" / "a" / "quora.parquet")["prob"].to_numpy()
            a_right = (a_prob >= 0.5) == (gold == 1)
            prob = np.where(a_right, np.where(gold == 1, 0.499, 0.501), gold)
            columns = {"pred": (prob >= 0.5).astype(int), "prob": prob}
        else:
            columns = {"pred": pd.read_parquet(root / "tables" / "predictions" / "b" / "sts.parquet")["pred"].to_numpy()}
        write_table(root / "tables", manifest, variant="m", task=task, frame=pd.DataFrame({"id": frame["id"], **columns}),
                    checkpoint_name="m", checkpoint_hash="hash-m", data=data_identity(info))
    write_manifest(root / "tables", manifest)
    return A.load(root / "tables", synthetic / "data", checkpoints=False)


def test_a_muted_head_is_never_a_member_for_its_task(with_muted_helper):
    from analysis.trust import muted_reason

    a = with_muted_helper
    candidates = candidates_of(a)
    scorer = _Scorer(a, candidates)
    assert "m" in candidates and scorer.muted("quora", "m") and not scorer.muted("sst", "m")
    summary = summarize(a)["variants"]["m"]["tasks"]
    assert muted_reason("quora", summary["quora"]) == scorer.muted("quora", "m")  # the rule analysis.trust applies
    # without the rule, greedy selection would take it: it lifts any Quora ensemble of "a"
    assert scorer.value("quora", ["a", "m"]) > max(scorer.value("quora", [c]) for c in candidates) + 0.1
    selection = select_members(a, candidates)
    assert "m" in selection.muted["quora"] and "m" not in selection.members["quora"]
    assert all("m" not in step.members for step in selection.paths["quora"])
    # ... and it is a member where its head works: the members differ per task
    assert selection.members["sst"][0] == "m"
    assert selection.members["sst"] != selection.members["quora"]
    fit = cross_fitted(a, candidates, n_boot=50)
    assert all("m" not in fit.chosen[half]["quora"] for half in "AB") and "m" in fit.chosen["A"]["sst"]


def test_a_task_whose_heads_are_all_muted_is_a_clear_error(with_muted_helper):
    with pytest.raises(ValueError, match="quora head is muted"):
        select_members(with_muted_helper, ["m"])
