"""The CLI end to end on tiny data with a tiny backbone: train, evaluate, predict."""
import csv

import pytest

from minibert.cli import main
from minibert.submission import read_submission


@pytest.fixture
def tiny_env(tiny_world, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIBERT_BACKBONE", str(tiny_world["backbone"]))
    monkeypatch.setenv("MINIBERT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MINIBERT_RUNS", str(tmp_path / "runs"))
    return {"data": str(tiny_world["data"]), "ck": str(tmp_path / "ck"), "tmp": tmp_path}


def _train(env, variant, *extra):
    return main(["train", "--variant", variant, "--data-dir", env["data"], "--checkpoints", env["ck"],
                 "--epochs", "2", "--batch-size", "8", "--device", "cpu", "--no-progress", *extra])


@pytest.mark.slow
def test_train_evaluate_predict(tiny_env, capsys):
    assert _train(tiny_env, "sbert-concat") == 0
    assert _train(tiny_env, "frozen-mean") == 0
    assert main(["train", "--variant", "ensemble", "--checkpoints", tiny_env["ck"]]) == 0
    out = capsys.readouterr().out
    assert "epoch 2:" in out and "stored as int8-delta" in out

    assert main(["evaluate", "--data-dir", tiny_env["data"], "--checkpoints", tiny_env["ck"], "--device", "cpu"]) == 0
    table = capsys.readouterr().out
    for name in ("sbert-concat", "frozen-mean", "ensemble"):
        assert name in table
    assert "Quora" in table
    common = ["--data-dir", tiny_env["data"], "--checkpoints", tiny_env["ck"], "--device", "cpu"]
    assert main(["evaluate", "--variant", "ensemble,frozen-mean", *common]) == 0
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:-1]]
    assert rows == ["ensemble", "frozen-mean"]
    with pytest.raises(SystemExit, match="the one variant whose files to write, got 'all'"):
        main(["predict", "--variant", "all", *common])

    out_dir = tiny_env["tmp"] / "pred"
    assert main(["predict", "--variant", "sbert-concat", "--data-dir", tiny_env["data"], "--checkpoints",
                 tiny_env["ck"], "--out", str(out_dir), "--device", "cpu"]) == 0
    task, ids, preds = read_submission(out_dir / "sst-test-output.csv")
    assert task == "sst" and len(ids) == 24 and set(preds) <= {"0", "1", "2", "3", "4"}
    assert (out_dir / "para-dev-output.csv").read_text().startswith("id \t Predicted_Is_Paraphrase \n")


@pytest.mark.slow
def test_checkpoint_records_history_and_best_epoch(tiny_env):
    import json
    from pathlib import Path

    assert _train(tiny_env, "cosine-mean") == 0
    config = json.loads(Path(tiny_env["ck"], "cosine-mean", "config.json").read_text())
    assert [h["epoch"] for h in config["history"]] == [1, 2]
    best = config["training"]["best_epoch"]
    assert config["metrics"]["dev_at_training"] == config["history"][best - 1]["dev"]
    assert set(config["metrics"]["dev"]) == {"sst_acc", "quora_acc", "sts_pearson", "overall"}


def test_missing_data_is_a_clear_error(tiny_env, capsys):
    assert _train({**tiny_env, "data": str(tiny_env["tmp"] / "nowhere")}, "sbert-concat") == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "--data-dir" in err


def test_strict_makes_a_bad_row_fatal(tiny_env, tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_env["data"], data)
    with open(data / "ids-sst-train.csv", "a", newline="") as f:
        csv.writer(f, delimiter="\t", lineterminator="\n").writerow([99, "f" * 25, "a sentence", 9])
    assert _train({**tiny_env, "data": str(data)}, "frozen-cls", "--strict") == 2
    assert "ids-sst-train.csv:26" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_keeps_the_last_good_checkpoint(tiny_env, monkeypatch, capsys):
    import json
    from pathlib import Path

    from minibert import train

    rounds_per_epoch = []
    original = train.Trainer.run_round

    def interrupted(self):
        rounds_per_epoch.append(1)
        if len(rounds_per_epoch) > self.rounds_per_epoch:  # somewhere in epoch 2
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(train.Trainer, "run_round", interrupted)
    assert _train(tiny_env, "dps-mse") == 0
    assert "interrupted" in capsys.readouterr().out
    folder = Path(tiny_env["ck"], "dps-mse")
    config = json.loads((folder / "config.json").read_text())
    assert config["training"]["best_epoch"] == 1
    from minibert.checkpoint import load_checkpoint

    load_checkpoint(folder)  # intact and loadable
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")], "temporary folders left behind"


@pytest.mark.slow
@pytest.mark.subprocess
def test_train_all_runs_recipes_as_processes_then_composes_the_ensemble(tiny_env, capsys):
    from pathlib import Path

    from minibert.recipes import trainable_recipes

    keep = {"frozen-mean", "cosine-mean"}
    skip = ",".join(r.name for r in trainable_recipes() if r.name not in keep)
    assert main(["train", "--all", "--jobs", "2", "--skip", skip, "--data-dir", tiny_env["data"],
                 "--checkpoints", tiny_env["ck"], "--epochs", "1", "--batch-size", "8", "--device", "cpu"]) == 0
    assert "failed: none" in capsys.readouterr().out
    assert {p.name for p in Path(tiny_env["ck"]).iterdir()} == keep | {"ensemble"}
    assert (Path(tiny_env["tmp"]) / "runs" / "cosine-mean.log").read_text().count("epoch 1:") == 1


@pytest.mark.slow
def test_a_storage_that_moves_dev_metrics_is_redone_finer(tiny_env, monkeypatch, capsys):
    import json
    from pathlib import Path

    from minibert import train
    from minibert.checkpoint import load_checkpoint

    monkeypatch.setattr(train, "STORAGE_TOLERANCE", -1.0)  # every lossy format "moves" a metric too far
    assert _train(tiny_env, "sbert-concat", "--storage", "int8-delta") == 0
    out = capsys.readouterr().out
    assert "int8-delta moved a dev metric" in out and "storing as fp16" in out and "storing as fp32" in out
    folder = Path(tiny_env["ck"], "sbert-concat")
    config = json.loads((folder / "config.json").read_text())
    assert [t["dtype"] for t in config["storage"]["tried"]] == ["int8-delta", "fp16", "fp32"]
    assert config["storage"]["dtype"] == "fp32"
    # fp32 is exact: what is stored is the best epoch's weights, whichever epoch that was.
    assert config["metrics"]["dev"] == config["metrics"]["dev_at_training"]
    best = config["training"]["best_epoch"]
    assert config["metrics"]["dev_at_training"] == config["history"][best - 1]["dev"]
    load_checkpoint(folder)


@pytest.mark.slow
@pytest.mark.subprocess
def test_train_all_with_seeds_replicates_the_best_variant_and_records_the_spread(tiny_env, capsys):
    import json
    import statistics
    from pathlib import Path

    from minibert.recipes import get_recipe, trainable_recipes
    from minibert.reruns import tuned_lr_field

    keep = {"frozen-mean", "cosine-mean"}
    skip = ",".join(r.name for r in trainable_recipes() if r.name not in keep)
    assert main(["train", "--all", "--jobs", "2", "--seeds", "3", "--lr-tries", "0.5,2", "--skip", skip,
                 "--data-dir", tiny_env["data"], "--checkpoints", tiny_env["ck"], "--epochs", "1", "--batch-size", "8",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    configs = {n: json.loads(Path(tiny_env["ck"], n, "config.json").read_text()) for n in keep}
    best = max(keep, key=lambda n: configs[n]["metrics"]["dev"]["overall"])
    seed = get_recipe(best).seed
    assert f"best variant {best}" in out and "failed: none" in out
    record = configs[best]["training"]["seed_replicates"]
    assert record["seeds"] == [seed, seed + 1, seed + 2]
    other = (keep - {best}).pop()
    assert "seed_replicates" not in configs[other]["training"]
    # The replicates trained for real, each with its own seed, outside the shipped checkpoints.
    runs = Path(tiny_env["tmp"]) / "runs" / "seeds"
    replicas = [json.loads((runs / f"seed{s}" / best / "config.json").read_text()) for s in (seed + 1, seed + 2)]
    assert [r["training"]["seed"] for r in replicas] == [seed + 1, seed + 2]
    overall = [configs[best]["metrics"]["dev"]["overall"]] + [r["metrics"]["dev"]["overall"] for r in replicas]
    assert record["dev"][1]["overall"] == overall[1]
    assert record["mean"]["overall"] == statistics.fmean(overall)
    assert record["sd"]["overall"] == statistics.stdev(overall)
    assert {p.name for p in Path(tiny_env["ck"]).iterdir()} == keep | {"ensemble"}
    assert f"{best} over 3 seeds" in out

    # The learning-rate tries: the same seed, the tuned rate halved and doubled, recorded by rate.
    field = tuned_lr_field(configs[best]["recipe"])
    rate = configs[best]["recipe"][field]
    tries = configs[best]["training"]["lr_tries"]
    assert [t[field] for t in tries] == [rate * 0.5, rate, rate * 2]
    assert [t["shipped"] for t in tries] == [False, True, False]
    assert tries[1]["dev"]["overall"] == configs[best]["metrics"]["dev"]["overall"]
    for t in (tries[0], tries[2]):
        run = json.loads((runs / f"{field}{t[field]:.1e}" / best / "config.json").read_text())
        assert run["recipe"][field] == t[field] and run["training"]["seed"] == seed
        assert t["dev"] == {m: run["metrics"]["dev"][m] for m in t["dev"]}
    assert "lr_tries" not in configs[other]["training"]
    assert f"tried on dev for {best}" in out


@pytest.mark.slow
@pytest.mark.subprocess
def test_reruns_only_reruns_the_best_stored_variant_and_leaves_its_weights(tiny_env, capsys):
    import hashlib
    import json
    from pathlib import Path

    from minibert.recipes import get_recipe

    assert _train(tiny_env, "cosine-mean", "--epochs", "1") == 0
    assert _train(tiny_env, "frozen-mean", "--epochs", "1") == 0
    ck = Path(tiny_env["ck"])
    configs = {n: json.loads((ck / n / "config.json").read_text()) for n in ("cosine-mean", "frozen-mean")}
    best = max(configs, key=lambda n: configs[n]["metrics"]["dev"]["overall"])
    # As if the best had taken longer than the whole budget (a GPU run's nine at once, say): after
    # a run that check would skip the reruns; asked for reruns only, each gets the time left.
    configs[best]["training"]["wall_seconds"] = 10_000.0
    (ck / best / "config.json").write_text(json.dumps(configs[best]))
    weights = {f: hashlib.sha256(f.read_bytes()).hexdigest() for f in ck.rglob("*.safetensors")}
    capsys.readouterr()
    assert main(["train", "--all", "--reruns-only", "--jobs", "2", "--seeds", "2", "--lr-tries", "2",
                 "--data-dir", tiny_env["data"], "--checkpoints", tiny_env["ck"], "--epochs", "1", "--batch-size", "8",
                 "--device", "cpu", "--max-minutes", "30"]) == 0
    out = capsys.readouterr().out
    assert f"best variant {best}" in out and "failed: none" in out and "started cosine-mean" not in out
    after = json.loads((ck / best / "config.json").read_text())
    seed = get_recipe(best).seed
    assert after["training"]["seed_replicates"]["seeds"] == [seed, seed + 1]
    assert after["training"]["seed_replicates"]["stopped_early"] == [None, None]
    assert [t["shipped"] for t in after["training"]["lr_tries"]] == [True, False]
    # Only the records changed: the same weights, no new variant, no ensemble written.
    assert {f: hashlib.sha256(f.read_bytes()).hexdigest() for f in ck.rglob("*.safetensors")} == weights
    assert {k: v for k, v in after["training"].items() if k not in ("seed_replicates", "lr_tries")} \
        == configs[best]["training"]
    assert {p.name for p in ck.iterdir()} == {"cosine-mean", "frozen-mean"}


def test_reruns_only_says_what_it_lacks(tiny_env):
    with pytest.raises(SystemExit, match="--reruns-only needs --seeds 2 or more, or --lr-tries"):
        main(["train", "--all", "--reruns-only", "--checkpoints", tiny_env["ck"]])
    with pytest.raises(SystemExit, match="--reruns-only: no stored variant in"):
        main(["train", "--all", "--reruns-only", "--seeds", "3", "--checkpoints", tiny_env["ck"]])
    with pytest.raises(SystemExit, match="--reruns-only goes with --all"):
        main(["train", "--variant", "sbert-concat", "--reruns-only", "--seeds", "3"])


def test_a_seed_replicate_cut_by_the_time_budget_is_counted_in_its_summary():
    from minibert.reruns import describe

    metrics = {m: 0.5 for m in ("sst_acc", "quora_acc", "sts_pearson", "overall")}
    record = {"seeds": [1, 2], "mean": metrics, "sd": metrics, "stopped_early": [None, "time budget of 60 s"]}
    assert describe("x", record).endswith("; 1 of them cut short by the time budget")
    del record["stopped_early"]  # recorded before this field existed
    assert describe("x", record).endswith("(mean ± sd)")


@pytest.mark.parametrize("bad", ["0.5,x", "0", "1", "-2"])
def test_lr_tries_must_be_factors_other_than_one(bad, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--all", "--lr-tries", bad])
    assert "--lr-tries" in capsys.readouterr().err


@pytest.mark.slow
def test_a_time_budget_stops_before_an_epoch_that_would_pass_it_and_keeps_the_best(tiny_env, capsys):
    import json
    from pathlib import Path

    assert _train(tiny_env, "cosine-mean", "--epochs", "3", "--max-minutes", "0.0001") == 0
    out = capsys.readouterr().out
    assert "epoch 1:" in out and "epoch 2:" not in out and "stopping: time budget" in out
    config = json.loads(Path(tiny_env["ck"], "cosine-mean", "config.json").read_text())
    assert config["training"]["epochs_run"] == 1 and "1 of 3 epochs run" in config["training"]["stopped_early"]
    assert config["recipe"]["epochs"] == 3
    assert config["metrics"]["dev"] and config["storage"]["tried"]  # still stored and checked


@pytest.mark.slow
def test_train_all_starts_nothing_the_budget_cannot_hold(tiny_env, tmp_path, capsys):
    import time
    from argparse import Namespace
    from pathlib import Path

    from minibert import orchestrate

    spent = time.perf_counter() - 1.0
    failed = orchestrate.run_processes({"a": ["--variant", "cosine-mean"]}, tmp_path, 1, spent, deadline=spent)
    assert failed == ["a"] and "a: not started, the time budget is spent" in capsys.readouterr().out
    assert not (tmp_path / "a.log").exists()
    assert _train(tiny_env, "cosine-mean", "--epochs", "1") == 0
    args = Namespace(seed=None, seeds=3, lr_tries=(2.0,), jobs=1)
    failed = orchestrate.rerun_best(["cosine-mean"], [], args, Path(tiny_env["ck"]), tmp_path, spent, deadline=spent)
    assert failed == ["seeds/no-time"]
    assert "no seed replicates or learning-rate tries" in capsys.readouterr().out
