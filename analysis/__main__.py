"""`python -m analysis build | status | report` (see `python -m analysis -h`)."""

from __future__ import annotations

import argparse
import sys


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
    args = parser.parse_args(argv)

    if args.command == "report":
        from pathlib import Path

        from .report import report

        return report(Path(args.readme), args.tables, check=args.check)

    if args.command == "build":
        from .build import BuildError, build

        try:
            report = build(args.checkpoints, args.data_dir, args.tables, force=args.force, device=args.device,
                           progress=not args.no_progress)
        except BuildError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return 1 if report.failures else 0

    from .load import load
    from .metrics import overall

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


if __name__ == "__main__":
    sys.exit(main())
