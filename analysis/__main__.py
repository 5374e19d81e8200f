"""`python -m analysis build | status | report | ensemble | import | why` (see `python -m analysis -h`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minibert.checkpoint_config import checkpoint_hashes, default_checkpoints_dir, scan_checkpoints
from minibert.recipes import get_recipe, member_union

from .build import BuildError, build
from .dev_metrics import overall
from .ensemble import candidates_of, cross_fitted, format_cross_fit, format_members, format_selection, select_members
from .imported import PredictionFileError, import_variant
from .load import load
from .report import report
from .schema import DEFAULT_TABLES_DIR
from .why import SavedSlice, saved_slices, why_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="precompute every variant's dev-set predictions into analysis/tables/")
    b.add_argument("--checkpoints", help="checkpoints folder (default $MINIBERT_CHECKPOINTS or checkpoints/)")
    b.add_argument("--data-dir", help="data folder (default $MINIBERT_DATA or data/)")
    b.add_argument("--tables", help="tables folder (default analysis/tables/)")
    b.add_argument("--force", action="store_true", help="rebuild every table, not only the changed ones")
    b.add_argument("--device", help="torch device (default cuda if available, else cpu)")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    s = sub.add_parser("status", help="load the tables and print the problems and the overall scores")
    s.add_argument("--checkpoints", help="checkpoints folder to check staleness against")
    s.add_argument("--data-dir")
    s.add_argument("--tables")
    r = sub.add_parser("report", help="write the README's results table from summary.json")
    r.add_argument("--readme", default="README.md")
    r.add_argument("--tables")
    r.add_argument("--check", action="store_true", help="only check that the README's table matches")
    e = sub.add_parser("ensemble", help="choose the ensemble's members per task on dev (greedy forward selection among "
                                        "heads analysis.trust does not mute) from the tables")
    e.add_argument("--checkpoints", help="checkpoints folder (default $MINIBERT_CHECKPOINTS or checkpoints/)")
    e.add_argument("--data-dir")
    e.add_argument("--tables")
    e.add_argument("--name", default="ensemble", help="the ensemble checkpoint to write (default ensemble)")
    e.add_argument("--max-members", type=int, default=None, help="stop after this many members per task")
    e.add_argument("--write", action="store_true",
                   help="write the chosen members into checkpoints/NAME/config.json, with the dev-chosen and the "
                        "split-half figures as its record (implies --halves)")
    e.add_argument("--halves", action="store_true",
                   help="also the honest figure: members chosen on one half of dev and scored on the other, and the "
                        "reverse, with bootstrap intervals, beside the dev-chosen one")
    i = sub.add_parser("import", help="add your own model's CS224N dev prediction files as a variant (predictions only)")
    i.add_argument("--name", required=True, help="the variant's name: lowercase letters, digits, hyphens, at most 40")
    i.add_argument("files", nargs="+", metavar="FILE",
                   help="1 to 3 of sst-dev-output.csv, para-dev-output.csv, sts-dev-output.csv")
    i.add_argument("--replace", action="store_true", help="replace an earlier import of the same name")
    i.add_argument("--tables", help="tables folder (default analysis/tables/)")
    i.add_argument("--checkpoints", help="checkpoints folder whose names are taken (default $MINIBERT_CHECKPOINTS "
                                         "or checkpoints/)")
    w = sub.add_parser("why", help="why variant A beats or trails B on a task (or, with one, where A fails)")
    w.add_argument("--task", required=True, choices=("sst", "quora", "sts"))
    w.add_argument("variants", nargs="+", metavar="VARIANT", help="A, or A and B")
    form = w.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="machine-readable: every finding with its numbers")
    form.add_argument("--markdown", action="store_true", help="the prose report (the default)")
    w.add_argument("--export", metavar="OUT.zip", help="also write Markdown, figures (PNG, SVG) and a LaTeX table")
    w.add_argument("--tables", help="tables folder (default analysis/tables/)")
    w.add_argument("--data-dir")
    w.add_argument("--seed", type=int, default=0, help="bootstrap seed of the headline (0: the build's)")
    w.add_argument("--saved", action="store_true",
                   help="also test the saved slices marked shared in the findings database ($MINIBERT_DB_URL, else "
                        "the app's default store), as hypotheses apart from the automatic slices")
    args = parser.parse_args(argv)

    if args.command == "why":
        return _why(args)

    if args.command == "import":
        return _import(args)

    if args.command == "ensemble":
        return _ensemble(args)

    if args.command == "report":
        return report(Path(args.readme), args.tables, check=args.check)

    if args.command == "build":
        try:
            built = build(args.checkpoints, args.data_dir, args.tables, force=args.force, device=args.device,
                          progress=not args.no_progress)
        except BuildError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return 1 if built.failures else 0

    a = load(args.tables, args.data_dir, args.checkpoints)
    for task, source in a.sources.items():
        print(f"{task}: {source}")
    for note in a.notes:
        print(f"note: {note}")
    for problem in a.problems:
        print(f"problem: {problem}")
    if a.tasks:
        print(overall(a).round(4).to_string())
    return 1 if a.problems else 0


def _import(args: argparse.Namespace) -> int:
    tables = Path(args.tables) if args.tables else DEFAULT_TABLES_DIR
    checkpoints = Path(args.checkpoints) if args.checkpoints else default_checkpoints_dir()
    try:
        files = [(Path(f).name, Path(f).read_bytes()) for f in args.files]
        lines = import_variant(args.name, files, tables, checkpoints, replace=args.replace)
    except OSError as error:
        print(f"error: cannot read {error.filename}: {error.strerror}; nothing imported", file=sys.stderr)
        return 2
    except PredictionFileError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        print("nothing imported", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    print(f"imported {args.name!r} into {tables} (predictions only); it shows in the app's Errors, Slices and Models "
          "tabs")
    return 0


def _why(args: argparse.Namespace) -> int:
    if len(args.variants) > 2:
        print("error: give one variant (where it fails) or two (why A beats or trails B)", file=sys.stderr)
        return 2
    a = load(args.tables, args.data_dir, False)
    saved: list[SavedSlice] = []
    if args.saved:
        from findings import FindingsError, open_store, visible_slices  # SQLAlchemy: only when asked for

        store = open_store()
        try:
            rows = visible_slices(store, None, task=args.task)  # reader None: the rows anyone may read
        except FindingsError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        finally:
            store.close()
        saved, problems = saved_slices(rows)
        for line in problems:
            print(f"problem: {line}", file=sys.stderr)
    try:
        r = why_report(a, args.task, args.variants[0], args.variants[1] if len(args.variants) > 1 else None,
                       seed=args.seed, saved=saved)
    except (KeyError, ValueError) as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    print(r.to_json() if args.json else r.to_markdown())
    if args.export:
        print(f"wrote {r.export_zip(args.export)}", file=sys.stderr)
    return 0


def _ensemble(args: argparse.Namespace) -> int:
    from minibert.checkpoint import save_ensemble  # torch: the other commands run without it

    checkpoints = Path(args.checkpoints) if args.checkpoints else default_checkpoints_dir()
    a = load(args.tables, args.data_dir, checkpoints)
    if a.stale:
        for reason in a.stale.values():
            print(f"problem: {reason}", file=sys.stderr)
        print("error: stale tables would choose members from old predictions; run `python -m analysis build`",
              file=sys.stderr)
        return 2
    # Ensembles are no candidates: an ensemble of ensembles would count members twice. A broken
    # checkpoint has no tables either, so it is no candidate.
    ensembles = {folder.name for folder, _ in scan_checkpoints(checkpoints).ensembles}
    try:
        candidates = candidates_of(a, exclude=tuple(ensembles | {args.name}))
        selection = select_members(a, candidates, args.max_members)
        fit = cross_fitted(a, candidates, args.max_members) if args.halves or args.write else None
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_selection(selection))
    if fit is not None:
        print(format_cross_fit(fit))
    chosen = selection.chosen
    print(f"chosen on dev: {format_members(chosen.members)} (overall {chosen.overall:.4f}); "
          "its dev score is optimistic, since dev also chose it")
    if args.write:
        names = member_union(chosen.members)
        if len(names) < 2:
            print(f"not written: no combination beats {names[0]} alone on dev", file=sys.stderr)
            return 1
        hashes, _ = checkpoint_hashes(checkpoints)
        record = {"member_choice": {
            "rule": "per task, greedy forward selection on dev among heads analysis.trust does not mute",
            "command": "python -m analysis ensemble --halves --write",
            "dev_chosen": chosen.figures(), "split_half": fit.record(),
            "candidates": {name: hashes.get(name) for name in candidates}}}
        target = save_ensemble(checkpoints / args.name, get_recipe("ensemble"), chosen.members, record)
        print(f"wrote {target / 'config.json'}; run `python -m analysis build` to predict it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
