"""python -m findings upgrade | export (--json FILE | --csv DIR) | import (--json FILE | --csv DIR)

Works on the database the app would use ($MINIBERT_DB_URL, else the SQLite file; --url overrides)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from findings import FindingsError, FindingsSettings, Store
from findings.exchange import from_json, read_csv, to_json, write_csv


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m findings", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["upgrade", "export", "import"])
    p.add_argument("--url", default=None, help="SQLAlchemy URL (default: what the app would use)")
    p.add_argument("--json", type=Path, default=None, help="one JSON file")
    p.add_argument("--csv", type=Path, default=None, help="a folder with one CSV file per table")
    args = p.parse_args(argv)
    settings = FindingsSettings.from_env()
    store = Store(args.url or settings.url, settings.max_per_user, settings.max_rows, settings.upload_caps)
    try:
        if not store.available:
            print(f"error: {store.error}", file=sys.stderr)
            return 1
        if args.command == "upgrade":
            print(f"{store.url}: schema at the newest revision")
        elif args.command == "export":
            data = store.export()
            if args.csv:
                write_csv(data, args.csv)
            if args.json or not args.csv:
                body = to_json(data)
                args.json.write_text(body, encoding="utf-8") if args.json else sys.stdout.write(body)
        else:
            if bool(args.json) == bool(args.csv):
                p.error("import needs exactly one of --json FILE and --csv DIR")
            data = from_json(args.json.read_text(encoding="utf-8")) if args.json else read_csv(args.csv)
            counts = store.import_(data)
            print("imported " + ", ".join(f"{n} {name}" for name, n in counts.items()))
    except FindingsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
