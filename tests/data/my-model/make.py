"""Writes this folder's example prediction files: a word-overlap rule "model" over the shipped dev
examples, in the CS224N layout, for the README's "Analyse your own model" commands and the tests.

    PYTHONPATH=. python tests/data/my-model/make.py

SST: 1 (negative) when the sentence has a negation word, else 3 (positive); hard labels.
Quora: P(duplicate) = the Jaccard overlap of the two sentences' words, in the optional `prob`
column, and duplicate when it is at least 0.5. STS: 5 x that overlap. Nothing is fitted.
"""

from __future__ import annotations

from pathlib import Path

from analysis.schema import DEFAULT_TABLES_DIR
from analysis.tables import read_examples
from minibert.submission import HEADERS, SEPARATOR, write_submission

HERE = Path(__file__).resolve().parent


def main() -> None:
    sst, _ = read_examples(DEFAULT_TABLES_DIR, "sst")
    write_submission(HERE / "sst-dev-output.csv", "sst", sst["id"], [1 if n else 3 for n in sst["negation"]])
    sts, _ = read_examples(DEFAULT_TABLES_DIR, "sts")
    write_submission(HERE / "sts-dev-output.csv", "sts", sts["id"], [round(5 * float(o), 3) for o in sts["overlap"]])
    quora, _ = read_examples(DEFAULT_TABLES_DIR, "quora")
    with open(HERE / "para-dev-output.csv", "w", encoding="utf-8", newline="\n") as handle:
        handle.write(HEADERS["quora"].rstrip("\n") + "\t prob \n")
        for example_id, overlap in zip(quora["id"], quora["overlap"]):
            p = round(float(overlap), 4)
            handle.write(f"{example_id}{SEPARATOR}{int(p >= 0.5)}{SEPARATOR}{p} \n")


if __name__ == "__main__":
    main()
