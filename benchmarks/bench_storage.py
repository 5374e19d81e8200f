"""What each stored weight format costs: size on disk, weight error, and the change of every dev
metric against the checkpoint as given (store it as fp32 to measure against training-time weights).

    python -m benchmarks.bench_storage --checkpoint DIR [--storages fp16,int8,int8-delta]
        [--data-dir DIR] [--rows N] [--device cpu]

Each format goes through the real `save_checkpoint` / `load_checkpoint` in a temporary folder.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

from minibert.backbone import resolve_backbone
from minibert.checkpoint import STORAGE_DTYPES, delta_base, load_checkpoint, save_checkpoint
from minibert.data import read_split, resolve_data_dir
from minibert.metrics import dev_metrics
from minibert.predict import Scorer
from minibert.tasks import TASK_NAMES

METRICS = ("sst_acc", "quora_acc", "sts_pearson", "overall")


def relative_error(reference: dict, other: dict) -> float:
    """sqrt(sum |a - b|^2 / sum |a|^2) over the encoder's matrices both hold."""
    num = den = 0.0
    for k, v in reference.items():
        if k.startswith("encoder.") and v.ndim == 2 and k in other:
            num += float((other[k].float().cpu() - v.float().cpu()).pow(2).sum())
            den += float(v.float().cpu().pow(2).sum())
    return (num / den) ** 0.5 if den else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a model checkpoint folder (ideally stored as fp32)")
    parser.add_argument("--storages", default="fp16,int8,int8-delta")
    parser.add_argument("--data-dir")
    parser.add_argument("--rows", type=int, help="first N dev rows per task (default: all)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    storages = [s for s in args.storages.split(",") if s]
    unknown = [s for s in storages if s not in STORAGE_DTYPES]
    if unknown:
        parser.error(f"--storages: unknown {unknown}; known: {', '.join(STORAGE_DTYPES)}")

    model, tokenizer, config = load_checkpoint(Path(args.checkpoint), args.device)
    if model.recipe.encoder == "frozen":
        parser.error(f"{args.checkpoint}: a frozen-encoder recipe stores only its heads; nothing to compare")
    given = config.storage["dtype"]
    data_dir = resolve_data_dir(args.data_dir)
    splits = {t: read_split(t, "dev", data_dir, limit=args.rows) for t in TASK_NAMES}
    rows = {t: len(s.examples) for t, s in splits.items()}
    print(f"{config.name} ({model.recipe.name}), stored as {given}; dev rows {rows}")
    backbone = resolve_backbone(config.backbone["name"])
    pretrained = delta_base(model.recipe, load_file(str(backbone / "model.safetensors")))
    if pretrained:  # how far fine-tuning moved the weights: what int8-delta has to resolve
        print(f"encoder matrices moved {relative_error(model.state_dict(), pretrained):.2e} (relative) from the backbone")
    reference = dev_metrics(Scorer(model, tokenizer, args.device), splits)
    print(f"{'storage':<11} {'MB':>6} {'weight err':>10} " + " ".join(f"{m:>18}" for m in METRICS))
    print(f"{given + ' (given)':<11} {'':>6} {'':>10} " + " ".join(f"{reference[m]:18.4f}" for m in METRICS))
    for storage in storages:
        with tempfile.TemporaryDirectory() as tmp:
            path = save_checkpoint(Path(tmp) / config.name, model, backbone, storage=storage)
            size = sum(f.stat().st_size for f in path.glob("*.safetensors")) / 1e6
            stored, _, _ = load_checkpoint(path, args.device)
        metrics = dev_metrics(Scorer(stored, tokenizer, args.device), splits)
        cells = " ".join(f"{metrics[m]:8.4f} ({metrics[m] - reference[m]:+.4f})" for m in METRICS)
        print(f"{storage:<11} {size:6.1f} {relative_error(model.state_dict(), stored.state_dict()):10.2e} {cells}")
    print(f"worst allowed change (issue 8): 0.002; SST dev has {rows['sst']} rows, so one example is "
          f"{1 / max(rows['sst'], 1):.4f} of accuracy")


if __name__ == "__main__":
    main()
