"""What ships: the committed checkpoints, tables, summary and the README's results table agree."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.report import END, PUBLISHED, START, render, results_table
from minibert.reruns import METRICS

ROOT = Path(__file__).resolve().parent.parent
TABLES = ROOT / "analysis" / "tables"
CHECKPOINTS = ROOT / "checkpoints"


def _summary():
    import json

    path = TABLES / "summary.json"
    if not path.is_file():
        pytest.skip(f"no committed summary at {path}")
    return json.loads(path.read_text())


def test_results_table_lists_variants_published_figures_and_caveats():
    summary = {"variants": {
        "a": {"overall": 0.7, "tasks": {"sst": {"accuracy": 0.4}, "quora": {"accuracy": 0.8}, "sts": {"pearson": 0.85}},
              "training": {"wall_seconds": 30.0, "hardware": "CPU (2 cores)", "train_sentences_per_second": 1234.5,
                           "seed_replicates": {"seeds": [1, 2, 3], "mean": dict.fromkeys(METRICS, 0.5),
                                               "sd": dict.fromkeys(METRICS, 0.01)},
                           "lr_tries": [{"lr": 2.5e-5, "shipped": False, "dev": {"overall": 0.69}},
                                        {"lr": 5e-5, "shipped": True, "dev": {"overall": 0.7}},
                                        {"lr": 1e-4, "shipped": False, "dev": {"overall": 0.68},
                                         "stopped_early": "time budget of 60 s: 1 of 4 epochs run"}]}},
        "f": {"overall": 0.6, "tasks": {}, "training": {"train_sentences_per_second": 9e5, "features_seconds": 3.0}},
        "ensemble": {"overall": 0.71, "tasks": {}, "training": {}}}}
    table = results_table(summary)
    lines = table.splitlines()
    assert lines[2].startswith("| `ensemble` |") and "composed at prediction time" in lines[2]
    assert "| `a` | 0.400 | 0.800 | 0.850 | 0.700 | 30 s | 1,234 | CPU (2 cores) |" in table
    assert "| `f` |" in table and "| heads only |" in table  # a frozen encoder's head speed is no throughput
    assert "Seed spread: a over 3 seeds (1, 2, 3): sst_acc 0.5000 ± 0.0100" in table
    assert ("Learning rates tried on dev for a (one seed each): 2.5e-05 overall 0.6900, 5.0e-05 overall 0.7000 "
            "(shipped), 1.0e-04 overall 0.6800 (cut by the time budget).") in table
    for source, *_ in PUBLISHED:
        assert source in table
    # minBERT and Downstream Tasks reported no overall score: (0.508 + 0.783 + 1.657 / 2) / 3
    assert "0.707 (computed)" in table
    assert "103,663 Quora duplicate pairs" in table and "16 %" in table


def test_render_needs_the_markers():
    with pytest.raises(ValueError, match="markers"):
        render("no markers here", "table")
    assert render(f"a\n{START}\nold\n{END}\nb", "new") == f"a\n{START}\nnew\n{END}\nb"


def test_readme_table_matches_the_committed_summary():
    summary = _summary()
    readme = (ROOT / "README.md").read_text()
    assert render(readme, results_table(summary)) == readme, "run `python -m analysis report`"


@pytest.mark.slow
def test_committed_tables_agree_with_the_committed_checkpoints(real_data_dir):
    """Re-score a fixed sample of 32 dev rows per task through minibert; the tables must agree."""
    _summary()
    if not CHECKPOINTS.is_dir():
        pytest.skip("no committed checkpoints")
    from minibert.data import read_split
    from minibert.predict import load_variants

    variants, failures = load_variants(CHECKPOINTS, "cpu")
    assert not failures, failures
    rng = np.random.default_rng(0)
    for task in ("sst", "quora", "sts"):
        examples = read_split(task, "dev", real_data_dir).examples
        sample = [examples[i] for i in sorted(rng.choice(len(examples), min(32, len(examples)), replace=False))]
        for name, variant in variants.items():
            table = pd.read_parquet(TABLES / "predictions" / name / f"{task}.parquet").set_index("id")
            ids = [e.id for e in sample]
            if task == "sst":
                ours = variant.sentiment([e.sentence for e in sample])
                stored = table.loc[ids, [f"p{k}" for k in range(5)]].to_numpy()
            elif task == "quora":
                ours = variant.paraphrase([(e.sentence1, e.sentence2) for e in sample])
                stored = table.loc[ids, "prob"].to_numpy()
            else:
                ours = variant.similarity([(e.sentence1, e.sentence2) for e in sample])
                stored = table.loc[ids, "pred"].to_numpy()
            assert np.abs(ours - stored).max() < 1e-4, (name, task)


def test_committed_examples_tables_are_the_dev_files_with_their_features(real_data_dir):
    """Each shipped examples/<task>.parquet holds the dev file the predictions were built from,
    with exactly the features analysis.examples.add_features computes from it."""
    import json

    from analysis.examples import add_features, data_identity, read_dev_split, stored_columns

    manifest_path = TABLES / "manifest.json"
    if not manifest_path.is_file():
        pytest.skip(f"no committed manifest at {manifest_path}")
    manifest = json.loads(manifest_path.read_text())
    for task in ("sst", "quora", "sts"):
        entry = manifest["examples"][task]
        frame, info, _ = read_dev_split(task, real_data_dir)
        assert entry["data"] == data_identity(info), task
        stored = pd.read_parquet(TABLES / entry["file"])
        expected = add_features(frame, task)[stored_columns(task)]
        pd.testing.assert_frame_equal(stored, expected, check_dtype=False)
        assert (TABLES / entry["file"]).stat().st_size == entry["bytes"] <= 10 * 2**20


def test_results_table_puts_the_split_half_figure_beside_the_dev_chosen_ensemble():
    choice = {"rule": "per task, greedy", "command": "python -m analysis ensemble --halves --write",
              "dev_chosen": {"overall": 0.76},
              "split_half": {"sst_accuracy": 0.48, "quora_accuracy": 0.846, "sts_pearson": 0.888, "overall": 0.757,
                             "overall_ci": [0.747, 0.768], "seed": 23, "n_boot": 2000},
              "candidates": {"a": "ha", "b": "hb"}}
    summary = {"variants": {
        "a": {"overall": 0.7, "tasks": {}, "training": {}, "checkpoint": {"hash": "ha"}},
        "b": {"overall": 0.8, "tasks": {}, "training": {}, "checkpoint": {"hash": "hb"}},
        "ensemble": {"overall": 0.76, "tasks": {}, "training": {"member_choice": choice}}}}
    lines = results_table(summary).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("| `ensemble` |"))
    assert lines[at + 1] == ("| `ensemble`, split-half ‡ | 0.480 | 0.846 | 0.888 | 0.757 | n/a | n/a | members chosen on "
                             "the other half of dev |")
    note = next(line for line in lines if line.startswith("‡"))
    assert "0.747-0.768" in note and "`python -m analysis ensemble --halves --write`" in note and "Stale" not in note
    summary["variants"]["b"]["checkpoint"]["hash"] = "retrained"
    note = next(line for line in results_table(summary).splitlines() if line.startswith("‡"))
    assert "Stale: b changed since" in note
