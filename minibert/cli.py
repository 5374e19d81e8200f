"""`python -m minibert train | evaluate | predict`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .checkpoint import STORAGE_DTYPES
from .data import BadDataError, DataFileMissing, read_split, resolve_data_dir
from .recipes import RECIPES, TRIALS, get_recipe
from .tasks import TASK_NAMES, TASKS


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder with the CS224N csv files (default: $MINIBERT_DATA, else data/)")
    p.add_argument("--checkpoints", help="checkpoints folder (default: $MINIBERT_CHECKPOINTS, else checkpoints/)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--strict", action="store_true", help="a bad data row is fatal instead of counted and skipped")


def _multipliers(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 0.5,2, got {text!r}") from None
    if any(not (v > 0) or v == 1 for v in values):
        raise argparse.ArgumentTypeError(f"each factor must be positive and not 1, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m minibert", description="MiniBERT Explorer: train, evaluate, predict.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train one variant (or --all)")
    which = t.add_mutually_exclusive_group(required=True)
    which.add_argument("--variant", choices=sorted([*RECIPES, *TRIALS]),
                       help="a shipped recipe, or one of issue 23's trials (minibert/wave.py)")
    which.add_argument("--all", action="store_true", help="every trainable recipe, then the ensemble")
    _common(t)
    t.add_argument("--rows-per-task", type=int, help="cap train and dev rows per task (quick runs)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--lr", type=float, help="encoder learning rate")
    t.add_argument("--head-lr", type=float, help="learning rate of the task heads")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--storage", choices=STORAGE_DTYPES,
                   help="stored weight format (default: fp32 for frozen-encoder heads, else int8-delta: int8 of the "
                        "difference from the backbone)")
    t.add_argument("--jobs", type=int, default=1, help="with --all: variants trained at once, as separate processes")
    t.add_argument("--skip", default="", help="with --all: comma-separated variants to leave out")
    t.add_argument("--seeds", type=int, default=1,
                   help="with --all: train the best variant with this many seeds in all, and record each seed's dev metrics")
    t.add_argument("--lr-tries", type=_multipliers, default=(),
                   help="with --all: comma-separated factors (e.g. 0.5,2) of the best variant's learning rate (the "
                        "encoder's, or the heads' when the encoder is frozen) to retrain it with, at once with the seed "
                        "replicates; their dev metrics are recorded in its checkpoint, their weights are not shipped")
    t.add_argument("--reruns-only", action="store_true",
                   help="with --all: train nothing new; rerun the best of the variants already stored (--seeds, "
                        "--lr-tries) and record them in its checkpoint, for a run whose time ran out before them")
    t.add_argument("--max-minutes", type=float,
                   help="wall-clock budget: a run stops before an epoch that would end after it (its best epoch is kept); "
                        "with --all, for the whole command (the best variant's reruns, --seeds and --lr-tries, start only "
                        "if its own time fits)")
    t.add_argument("--members", help="ensemble: comma-separated member variants (default: every loaded model)")
    t.add_argument("--no-progress", action="store_true")

    a = sub.add_parser("array", help="a cluster job array (scripts/slurm_train.sh): one variant and seed per task")
    step = a.add_mutually_exclusive_group(required=True)
    step.add_argument("--count", action="store_true", help="print the number of array tasks")
    step.add_argument("--task", type=int, help="train array task N (0-based, as SLURM_ARRAY_TASK_ID)")
    step.add_argument("--finish", action="store_true",
                      help="after every task: record each variant's seed spread, compose the ensemble")
    a.add_argument("--seeds", type=int, default=1, help="seeds per variant (the recipe's own, then the next ones)")
    a.add_argument("--skip", default="", help="comma-separated variants to leave out")
    a.add_argument("--checkpoints", help="checkpoints folder (default: $MINIBERT_CHECKPOINTS, else checkpoints/)")
    a.add_argument("--members", help="--finish: the ensemble's members (default: every loaded model)")
    a.add_argument("train_args", nargs=argparse.REMAINDER, help="--task: after --, further flags for train")

    e = sub.add_parser("evaluate", help="dev metrics of shipped variants")
    e.add_argument("--variant", default="all", help="a name, comma-separated names, or all")
    e.add_argument("--split", default="dev", choices=["dev"])
    _common(e)

    b = sub.add_parser("backbone", help="write a compact copy of the backbone (for a machine without the package)")
    b.add_argument("out", help="folder to write")
    b.add_argument("--dtype", default="fp16", choices=["fp16", "fp32"])
    b.add_argument("--source", help="the backbone folder to copy (default: the package's)")
    b.add_argument("--word-embeddings",
                   help="a file from --word-embeddings-only: its exact fp32 word embeddings go into the copy")
    b.add_argument("--word-embeddings-only", action="store_true",
                   help="write only the fp32 word embeddings, as OUT/word_embeddings.safetensors")

    p = sub.add_parser("predict", help="CS224N submission files")
    p.add_argument("--variant", required=True)
    p.add_argument("--split", default="both", choices=["dev", "test", "both"])
    p.add_argument("--out", default="predictions", help="output folder (default: predictions/)")
    _common(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"train": cmd_train, "array": cmd_array, "evaluate": cmd_evaluate, "predict": cmd_predict,
                "backbone": cmd_backbone}[args.command](args)
    except (DataFileMissing, BadDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _device(args: argparse.Namespace) -> str:
    from .predict import default_device
    return args.device or default_device()


def _checkpoints_dir(args: argparse.Namespace) -> Path:
    from .checkpoint_config import default_checkpoints_dir
    return Path(args.checkpoints) if getattr(args, "checkpoints", None) else default_checkpoints_dir()


def cmd_train(args: argparse.Namespace) -> int:
    if args.all:
        from .orchestrate import train_all
        return train_all(args, _checkpoints_dir(args))
    if args.reruns_only:
        raise SystemExit("--reruns-only goes with --all (it reruns the best stored variant)")
    recipe = get_recipe(args.variant)
    if recipe.kind == "ensemble":
        from .checkpoint import save_ensemble
        members = [m for m in (args.members or "").split(",") if m]
        path = save_ensemble(_checkpoints_dir(args) / recipe.name, recipe, members)
        print(f"wrote {path} (members: {', '.join(members) or 'every loaded model'})")
        return 0
    from .train import TrainOptions, train_variant
    overrides = {"epochs": args.epochs, "seed": args.seed, "lr": args.lr, "head_lr": args.head_lr,
                 "batch_size": args.batch_size}
    options = TrainOptions(data_dir=resolve_data_dir(args.data_dir), checkpoints_dir=_checkpoints_dir(args),
                           rows_per_task=args.rows_per_task, device=_device(args), storage=args.storage,
                           strict=args.strict, progress=not args.no_progress,
                           max_seconds=None if args.max_minutes is None else args.max_minutes * 60,
                           overrides={k: v for k, v in overrides.items() if v is not None})
    from .distributed import is_main_process, leave
    try:
        path = train_variant(recipe, options)
        if is_main_process():
            print(f"saved {path}")
    finally:
        leave()
    return 0


def cmd_array(args: argparse.Namespace) -> int:
    from .orchestrate import array_runs, array_task_args, finish_array, runs_dir
    skip = {s for s in args.skip.split(",") if s}
    if args.count:
        print(len(array_runs(args.seeds, skip)))
        return 0
    if args.finish:
        members = [m for m in (args.members or "").split(",") if m]
        return 1 if finish_array(args.seeds, skip, _checkpoints_dir(args), runs_dir(), members) else 0
    extra = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    return main(["train", "--no-progress", *array_task_args(args.task, args.seeds, skip, _checkpoints_dir(args),
                                                           runs_dir()), *extra])


def _load(args: argparse.Namespace, one: bool = False):
    from .predict import load_variants
    wanted = None if args.variant == "all" else [v.strip() for v in args.variant.split(",") if v.strip()]
    if one and (wanted is None or len(wanted) != 1):
        raise SystemExit(f"error: --variant names the one variant whose files to write, got {args.variant!r}")
    variants, failures = load_variants(_checkpoints_dir(args), _device(args))
    for f in failures:
        print(f"could not load {f.name}: {f.reason}", file=sys.stderr)
    wanted = list(variants) if wanted is None else wanted
    missing = [w for w in wanted if w not in variants]
    if missing:
        raise SystemExit(f"error: variant(s) not loaded from {_checkpoints_dir(args)}: {', '.join(missing)}")
    return variants, wanted


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .metrics import dev_metrics
    from .predict import warm_frozen_features
    variants, wanted = _load(args)
    data_dir = resolve_data_dir(args.data_dir)
    splits = {t: read_split(t, args.split, data_dir, strict=args.strict) for t in TASK_NAMES}
    warm_frozen_features(variants, splits.values())
    print(f"{'variant':<16} {'SST acc':>8} {'Quora acc':>9} {'STS r':>7} {'overall':>8}")
    for name in wanted:
        m = dev_metrics(variants[name], splits)
        print(f"{name:<16} {m['sst_acc']:8.4f} {m['quora_acc']:9.4f} {m['sts_pearson']:7.4f} {m['overall']:8.4f}")
    print("Quora: the backbone was pretrained on Quora duplicates, and quora-train.csv may be partial.")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .predict import warm_frozen_features
    from .submission import submission_path, write_submission
    variants, (name,) = _load(args, one=True)
    variant = variants[name]
    data_dir = resolve_data_dir(args.data_dir)
    for split in (["dev", "test"] if args.split == "both" else [args.split]):
        for spec in TASKS:
            task = spec.name
            s = read_split(task, split, data_dir, strict=args.strict)
            warm_frozen_features(variants, [s])
            ex = s.examples
            inputs = [(e.sentence1, e.sentence2) if spec.pair else e.sentence for e in ex]
            preds = [spec.decide(output) for output in variant.score(task, inputs)]
            path = submission_path(args.out, task, split)
            write_submission(path, task, [e.id for e in ex], preds)
            print(f"wrote {path} ({len(ex)} rows{'; ' + str(len(s.bad_rows)) + ' bad rows skipped' if s.bad_rows else ''})")
    return 0


def cmd_backbone(args: argparse.Namespace) -> int:
    from .backbone import export_copy, export_word_embeddings
    source = Path(args.source) if args.source else None
    if args.word_embeddings_only:
        path = export_word_embeddings(Path(args.out) / "word_embeddings.safetensors", source)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
        return 0
    words = Path(args.word_embeddings) if args.word_embeddings else None
    out = export_copy(Path(args.out), source, dtype=args.dtype, word_embeddings=words)
    size = sum(f.stat().st_size for f in out.iterdir()) / 1e6
    print(f"wrote {out} ({size:.1f} MB); use it with MINIBERT_BACKBONE={out}")
    return 0
