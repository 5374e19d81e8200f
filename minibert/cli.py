"""`python -m minibert train | evaluate | predict`."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from .data import DataFileMissing, BadDataError, read_split, resolve_data_dir
from .checkpoint import STORAGE_DTYPES
from .recipes import RECIPES, get_recipe, trainable_recipes


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
    which.add_argument("--variant", choices=sorted(RECIPES))
    which.add_argument("--all", action="store_true", help="every trainable recipe, then the ensemble")
    _common(t)
    t.add_argument("--rows-per-task", type=int, help="cap train and dev rows per task (quick runs)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--lr", type=float, help="encoder learning rate")
    t.add_argument("--head-lr", type=float, help="learning rate of the task heads")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--storage", choices=STORAGE_DTYPES,
                   help="stored weight format (default: fp32 for frozen-encoder heads, else int8-delta: int8 of the difference from the backbone)")
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
                        "with --all, for the whole command (the best variant's reruns, --seeds and --lr-tries, start only if its own time fits)")
    t.add_argument("--members", help="ensemble: comma-separated member variants (default: every loaded model)")
    t.add_argument("--no-progress", action="store_true")

    e = sub.add_parser("evaluate", help="dev metrics of shipped variants")
    e.add_argument("--variant", default="all", help="a name, comma-separated names, or all")
    e.add_argument("--split", default="dev", choices=["dev"])
    _common(e)

    b = sub.add_parser("backbone", help="write a compact copy of the backbone (for a machine without the package)")
    b.add_argument("out", help="folder to write")
    b.add_argument("--dtype", default="fp16", choices=["fp16", "fp32"])
    b.add_argument("--source", help="the backbone folder to copy (default: the package's)")
    b.add_argument("--word-embeddings", help="a file from --word-embeddings-only: its exact fp32 word embeddings go into the copy")
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
        return {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
                "backbone": cmd_backbone}[args.command](args)
    except (DataFileMissing, BadDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _device(args) -> str:
    from .predict import default_device
    return args.device or default_device()


def _checkpoints_dir(args) -> Path:
    from .predict import default_checkpoints_dir
    return Path(args.checkpoints) if getattr(args, "checkpoints", None) else default_checkpoints_dir()


def cmd_train(args) -> int:
    if args.all:
        return _train_all(args)
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
    path = train_variant(recipe, options)
    print(f"saved {path}")
    return 0


def _train_all(args) -> int:
    """Each variant in its own process: one training process is launch-bound on a GPU, so several
    at once use it better than one after another."""
    skip = {s for s in args.skip.split(",") if s}
    names = [r.name for r in trainable_recipes() if r.name not in skip]
    passthrough = []
    for flag in ("data_dir", "device", "rows_per_task", "epochs", "lr", "head_lr", "batch_size", "storage"):
        value = getattr(args, flag)
        if value is not None:
            passthrough += [f"--{flag.replace('_', '-')}", str(value)]
    if args.strict:
        passthrough.append("--strict")
    logs = Path(os.environ.get("MINIBERT_RUNS", "runs"))
    logs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    deadline = None if args.max_minutes is None else started + args.max_minutes * 60
    seed = [] if args.seed is None else ["--seed", str(args.seed)]
    folder = _checkpoints_dir(args)
    if args.reruns_only:
        if args.seeds < 2 and not args.lr_tries:
            raise SystemExit("--reruns-only needs --seeds 2 or more, or --lr-tries")
        stored = [n for n in names if (folder / n / "config.json").is_file()]
        if not stored:
            raise SystemExit(f"--reruns-only: no stored variant in {folder}")
        # Asked for explicitly: each rerun still gets the time left as its budget, and one cut
        # short says so in its record.
        failed = _rerun_best(stored, passthrough, args, logs, started, deadline, check_fit=False)
    else:
        failed = _run_processes({name: ["--variant", name, *passthrough, *seed, "--checkpoints", str(folder)]
                                 for name in names}, logs, args.jobs, started, deadline)
        if args.seeds > 1 or args.lr_tries:
            failed += _rerun_best([n for n in names if n not in failed], passthrough, args, logs, started, deadline)
        if not (args.skip and "ensemble" in skip):
            from .checkpoint import save_ensemble
            members = [m for m in (args.members or "").split(",") if m]
            save_ensemble(folder / "ensemble", get_recipe("ensemble"), members)
    print(f"all done in {time.perf_counter() - started:.0f} s; failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


# Of a run's share of a --max-minutes budget, what its start (imports, data, model) and its final
# storage check take besides its epochs.
RUN_OVERHEAD_SECONDS = 45


def _run_processes(runs: dict[str, list[str]], logs: Path, jobs: int, started: float,
                   deadline: float | None = None) -> list[str]:
    """`python -m minibert train ARGS` for each run, `jobs` at a time, each logged to
    `logs/NAME.log`; returns the names of the runs that failed. With a `deadline`
    (perf_counter time), each run gets the time left as its budget, and none starts without
    time for one epoch's worth."""
    pending, running, failed = list(runs), {}, []
    while pending or running:
        while pending and len(running) < max(1, jobs):
            name = pending.pop(0)
            budget = []
            if deadline is not None:
                left = deadline - time.perf_counter() - RUN_OVERHEAD_SECONDS
                if left <= RUN_OVERHEAD_SECONDS:
                    print(f"{name}: not started, the time budget is spent", flush=True)
                    failed.append(name)
                    continue
                budget = ["--max-minutes", f"{left / 60:.2f}"]
            log_path = logs / f"{name}.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(log_path, "w")
            cmd = [sys.executable, "-m", "minibert", "train", "--no-progress", *runs[name], *budget]
            running[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log)
            print(f"started {name} (log: {log_path})", flush=True)
        time.sleep(1.0)
        for name, (proc, log) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                del running[name]
                if proc.returncode:
                    failed.append(name)
                status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                print(f"{name}: {status} after {time.perf_counter() - started:.0f} s", flush=True)
    return failed


def _rerun_best(names: list[str], passthrough: list[str], args, logs: Path, started: float,
                deadline: float | None, check_fit: bool = True) -> list[str]:
    """Retrain the best variant of this run (by stored dev overall) with further seeds and with
    the learning rates of `--lr-tries`, all at once, into `logs/seeds/` (not shipped); record every
    seed's dev metrics (the spread that tells a real difference between variants from noise) and
    every learning rate's in its checkpoint's config. Failures are named `seeds/...`: they leave
    what ships untouched."""
    from .checkpoint import CheckpointError, read_config
    from .seeds import record_lr_tries, record_replicates, tuned_lr_field

    root = _checkpoints_dir(args)
    configs = {n: read_config(root / n) for n in names}
    overall = {n: c["metrics"]["dev"]["overall"] for n, c in configs.items()}
    if not overall:
        return []
    best = max(overall, key=overall.get)
    config = configs[best]
    if deadline is not None and check_fit:
        # A rerun cut short by the budget would compare nothing: start them only if the best
        # variant's own run (start and storage check included) fits in the time left.
        needed = config["training"].get("wall_seconds", 0) + 2 * RUN_OVERHEAD_SECONDS
        if deadline - time.perf_counter() < needed:
            print(f"best variant {best}: no seed replicates or learning-rate tries, {needed:.0f} s needed and the "
                  f"time budget has {max(0.0, deadline - time.perf_counter()):.0f} s left", flush=True)
            return ["seeds/no-time"]
    base_seed = args.seed if args.seed is not None else get_recipe(best).seed
    seeds = [base_seed + i for i in range(1, args.seeds)]
    field = tuned_lr_field(config["recipe"])
    rates = [config["recipe"][field] * m for m in args.lr_tries]
    flag = "--" + field.replace("_", "-")
    seed_dirs = {f"seeds/{best}-seed{s}": (s, logs / "seeds" / f"seed{s}") for s in seeds}
    rate_dirs = {f"seeds/{best}-{field}{r:.1e}": (r, logs / "seeds" / f"{field}{r:.1e}") for r in rates}
    runs = {name: ["--variant", best, *passthrough, "--seed", str(s), "--checkpoints", str(folder)]
            for name, (s, folder) in seed_dirs.items()}
    runs.update({name: ["--variant", best, *passthrough, "--seed", str(base_seed), flag, repr(r),
                        "--checkpoints", str(folder)] for name, (r, folder) in rate_dirs.items()})
    print(f"best variant {best} (dev overall {overall[best]:.4f}): training "
          + "; ".join(filter(None, [seeds and "seeds " + ", ".join(map(str, seeds)),
                                    rates and f"{field} " + ", ".join(f"{r:.1e}" for r in rates)])), flush=True)
    failed = _run_processes(runs, logs, args.jobs, started, deadline)
    if seeds and not any(name in failed for name in seed_dirs):
        try:
            print(record_replicates(root / best, [folder / best for _, folder in seed_dirs.values()]), flush=True)
        except (CheckpointError, ValueError, KeyError) as error:  # what ships is trained: say so, go on
            print(f"seed spread not recorded: {error}", flush=True)
            failed.append("seeds/record")
    finished = [folder / best for name, (_, folder) in rate_dirs.items() if name not in failed]
    if finished:
        try:
            print(record_lr_tries(root / best, finished), flush=True)
        except (CheckpointError, ValueError, KeyError) as error:
            print(f"learning-rate tries not recorded: {error}", flush=True)
            failed.append("seeds/record-lr")
    return failed


def _load(args, one: bool = False):
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


def cmd_evaluate(args) -> int:
    from .metrics import dev_metrics
    from .predict import warm_frozen_features
    variants, wanted = _load(args)
    data_dir = resolve_data_dir(args.data_dir)
    splits = {t: read_split(t, args.split, data_dir, strict=args.strict) for t in ("sst", "quora", "sts")}
    warm_frozen_features(variants, splits.values())
    print(f"{'variant':<16} {'SST acc':>8} {'Quora acc':>9} {'STS r':>7} {'overall':>8}")
    for name in wanted:
        m = dev_metrics(variants[name], splits)
        print(f"{name:<16} {m['sst_acc']:8.4f} {m['quora_acc']:9.4f} {m['sts_pearson']:7.4f} {m['overall']:8.4f}")
    print("Quora: the backbone was pretrained on Quora duplicates, and quora-train.csv may be partial.")
    return 0


def cmd_predict(args) -> int:
    from .predict import warm_frozen_features
    from .submission import submission_path, write_submission
    variants, (name,) = _load(args, one=True)
    variant = variants[name]
    data_dir = resolve_data_dir(args.data_dir)
    for split in (["dev", "test"] if args.split == "both" else [args.split]):
        for task in ("sst", "quora", "sts"):
            s = read_split(task, split, data_dir, strict=args.strict)
            warm_frozen_features(variants, [s])
            ex = s.examples
            if task == "sst":
                preds = variant.sentiment([e.sentence for e in ex]).argmax(1)
            elif task == "quora":
                preds = (variant.paraphrase([(e.sentence1, e.sentence2) for e in ex]) >= 0.5).astype(int)
            else:
                preds = variant.similarity([(e.sentence1, e.sentence2) for e in ex])
            path = submission_path(args.out, task, split)
            write_submission(path, task, [e.id for e in ex], preds)
            print(f"wrote {path} ({len(ex)} rows{'; ' + str(len(s.bad_rows)) + ' bad rows skipped' if s.bad_rows else ''})")
    return 0


def cmd_backbone(args) -> int:
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
