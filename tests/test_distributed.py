"""Data-parallel training (DDP, gloo, two CPU processes) against one process on the same global
batches: the same losses step by step and the same weights; a torchrun-trained checkpoint that
loads and scores like any other."""
import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from minibert.distributed import Ranks
from minibert.settings import settings

RECIPES = ("sbert-concat", "pcgrad", "infonce", "multitask-cls")  # sum, surgery, gathered negatives, round-robin
ROUNDS = 6
# Two processes pad their shares of a batch to other lengths than one process does and add the
# shares' gradients in another order: float32 rounding, far below this.
TOLERANCE = 1e-5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_rounds(name: str, backbone: Path, data: Path, ranks: Ranks) -> tuple[list[dict], dict]:
    from minibert.data import read_split
    from minibert.network import build_model
    from minibert.recipes import get_recipe
    from minibert.tokenizer import Tokenizer
    from minibert.train import Trainer, seed_everything

    # Batches of 5 from 24 rows: 5, 5, 5, 5, 4, so shares of 3 and 2 (uneven) as well as 2 and 2.
    recipe = replace(get_recipe(name), dropout=0.0, batch_size=5, max_length=32)
    seed_everything(recipe.seed)
    model = _without_dropout(build_model(recipe, backbone))
    splits = {t: read_split(t, "train", data) for t in recipe.train_tasks}
    trainer = Trainer(model, Tokenizer(backbone, max_length=32), splits, "cpu", epochs=2, ranks=ranks)
    losses = []
    for _ in range(ROUNDS):
        step = trainer.run_round()
        values = torch.stack([step[t] for t in sorted(step)])
        losses.append(dict(zip(sorted(step), (ranks.sum(values) / ranks.world).tolist())))
    return losses, {k: v.detach().clone() for k, v in model.state_dict().items()}


def _without_dropout(model: torch.nn.Module) -> torch.nn.Module:
    """Dropout off everywhere: the heads' (the recipe's) and the encoder's (the backbone config's)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if hasattr(module, "dropout_p"):  # attention probabilities, dropped inside SDPA
            module.dropout_p = 0.0
    return model


def _rank_main(rank: int, world: int, port: int, backbone: str, data: str, out: str) -> None:
    from minibert.distributed import from_environment, leave

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    settings.reload()  # a spawned process may have read them before the lines above set them
    torch.set_num_threads(1)
    ranks, _ = from_environment("cpu")
    try:
        results = {name: _train_rounds(name, Path(backbone), Path(data), ranks) for name in RECIPES}
        if ranks.is_main:
            torch.save({n: {"losses": r[0], "state": r[1]} for n, r in results.items()}, out)
    finally:
        leave()


@pytest.mark.slow
@pytest.mark.subprocess
def test_two_processes_match_one_on_the_same_global_batches(tiny_world, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIBERT_BACKBONE", str(tiny_world["backbone"]))
    out = tmp_path / "ddp.pt"
    torch.multiprocessing.spawn(_rank_main, args=(2, _free_port(), str(tiny_world["backbone"]),
                                                  str(tiny_world["data"]), str(out)), nprocs=2, join=True)
    two = torch.load(out, weights_only=True)
    for name in RECIPES:
        losses, state = _train_rounds(name, tiny_world["backbone"], tiny_world["data"], Ranks())
        assert len(two[name]["losses"]) == ROUNDS
        for step, (a, b) in enumerate(zip(losses, two[name]["losses"])):
            assert a.keys() == b.keys()
            for task in a:
                assert abs(a[task] - b[task]) <= TOLERANCE, (name, step, task, a[task], b[task])
        moved = 0.0
        for key, value in state.items():
            assert torch.allclose(value, two[name]["state"][key], rtol=0, atol=TOLERANCE), (name, key)
            moved = max(moved, float((value - two[name]["state"][key]).abs().max()))
        # The runs trained (weights moved), so matching weights is not matching initial weights.
        initial = _initial_state(name, tiny_world["backbone"])
        assert max(float((state[k] - initial[k]).abs().max()) for k in state) > 100 * TOLERANCE


def _initial_state(name: str, backbone: Path) -> dict:
    from minibert.network import build_model
    from minibert.recipes import get_recipe
    from minibert.train import seed_everything

    recipe = replace(get_recipe(name), dropout=0.0, batch_size=5, max_length=32)
    seed_everything(recipe.seed)
    return build_model(recipe, backbone).state_dict()


def test_a_rank_takes_an_even_contiguous_share_weighted_by_its_size():
    batch = [10, 11, 12, 13, 14]
    shares = [Ranks(rank=r, world=2).shard(batch) for r in range(2)]
    assert [s[0] for s in shares] == [[10, 11, 12], [13, 14]]
    # Each share's mean loss x weight, averaged over the ranks, is the mean over the whole batch.
    assert [s[1].weight for s in shares] == [1.2, 0.8]
    assert sum(len(idx) * 1.0 for idx, _ in shares) == len(batch)
    # More ranks than rows: the rank left out scores a placeholder row at weight 0.
    idx, shard = Ranks(rank=2, world=3).shard([7, 8])
    assert idx == [7] and shard.weight == 0.0 and shard.padded_rows == 1
    assert Ranks().shard(batch) == (batch, Ranks().shard(batch)[1]) and Ranks().shard(batch)[1].weight == 1.0


def test_a_frozen_encoder_recipe_is_refused_under_torchrun(tiny_world, tmp_path, monkeypatch):
    from minibert.recipes import get_recipe
    from minibert.train import TrainOptions, train_variant

    monkeypatch.setenv("MINIBERT_BACKBONE", str(tiny_world["backbone"]))
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(SystemExit, match="frozen-encoder recipe .* without torchrun"):
        train_variant(get_recipe("frozen-mean"), TrainOptions(data_dir=tiny_world["data"], checkpoints_dir=tmp_path))


@pytest.mark.slow
@pytest.mark.subprocess
def test_torchrun_trains_a_checkpoint_that_loads_and_scores_like_any_other(tiny_world, tmp_path):
    from minibert.checkpoint import load_checkpoint
    from minibert.data import read_split
    from minibert.metrics import dev_metrics
    from minibert.predict import Scorer

    env = {**os.environ, "MINIBERT_BACKBONE": str(tiny_world["backbone"]), "OMP_NUM_THREADS": "1",
           "MINIBERT_CACHE": str(tmp_path / "cache")}
    ck = tmp_path / "ck"
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "minibert", "train", "--variant", "pcgrad", "--data-dir", str(tiny_world["data"]),
                          "--checkpoints", str(ck), "--epochs", "2", "--batch-size", "6", "--device", "cpu",
                          "--no-progress"], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("saved ") == 1 and "x 2 processes" in run.stdout  # rank 0 alone reports
    config = json.loads((ck / "pcgrad" / "config.json").read_text())
    assert config["training"]["processes"] == 2 and [h["epoch"] for h in config["history"]] == [1, 2]
    # 24 rows a task, batches of 6: each epoch saw every training sentence once, over both ranks.
    assert config["training"]["rows_per_task"] == {"sst": 24, "quora": 24, "sts": 24}
    model, tokenizer, _ = load_checkpoint(ck / "pcgrad")
    splits = {t: read_split(t, "dev", tiny_world["data"]) for t in ("sst", "quora", "sts")}
    scored = dev_metrics(Scorer(model, tokenizer, "cpu"), splits)
    assert {k: scored[k] for k in config["metrics"]["dev"]} == config["metrics"]["dev"]
    assert not [p for p in ck.iterdir() if p.name.startswith(".")], "temporary folders left behind"
