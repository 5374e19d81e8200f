"""Does a variant's SST answer depend on how the sentence is written? SST comes PTB-tokenized
(`it does n't work .`); the reader gives it as plain text (`it doesn't work.`), as a person types
it into the app. For the dev sentences whose WordPiece tokens differ between the two forms, this
prints how often each variant's predicted class changes, and its accuracy on each form.

    python -m benchmarks.bench_ptb_forms [--checkpoints DIR] [--data-dir DIR] [--device cpu]

A variant trained on one form and given the other shows what that mismatch costs; the PTB-trained
baselines are those of commit c426928 (`git archive c426928 checkpoints | tar -x -C /tmp/old`).
"""
from __future__ import annotations

import argparse
import csv
import sys

import numpy as np

from minibert.checkpoint_config import default_checkpoints_dir
from minibert.data import read_split, resolve_data_dir, unescape_ptb
from minibert.predict import load_variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", help="checkpoints folder (default: $MINIBERT_CHECKPOINTS, else checkpoints/)")
    parser.add_argument("--data-dir", help="folder with the CS224N csv files (default: $MINIBERT_DATA, else data/)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    split = read_split("sst", "dev", resolve_data_dir(args.data_dir))
    with open(split.path, newline="", encoding="utf-8-sig") as f:
        rows = csv.DictReader(f, delimiter="\t")
        # The escapes alone undone (as the reader did before it rejoined clitics and punctuation).
        ptb_by_id = {row["id"].strip(): unescape_ptb(row["sentence"].strip()) for row in rows}
    plain = [e.sentence for e in split.examples]
    ptb = [ptb_by_id[e.id] for e in split.examples]
    gold = np.array([e.label for e in split.examples])

    variants, failures = load_variants(args.checkpoints or default_checkpoints_dir(), args.device)
    for failure in failures:
        print(f"could not load {failure.name}: {failure.reason}", file=sys.stderr)
    if not variants:
        raise SystemExit("error: no variant loaded")
    tokenizer = next(v for v in variants.values() if hasattr(v, "tokenizer")).tokenizer
    differ = np.array([tokenizer.tokens(a) != tokenizer.tokens(b) for a, b in zip(ptb, plain)])
    print(f"SST dev: {differ.sum()} of {len(plain)} sentences tokenize differently in PTB and plain form")
    print(f"{'variant':<16} {'answer changed':>14} {'acc PTB':>8} {'acc plain':>9}   (on those)"
          f"   {'all: PTB':>8} {'plain':>7}")
    for name, variant in variants.items():
        on_ptb, on_plain = variant.sentiment(ptb).argmax(1), variant.sentiment(plain).argmax(1)
        d = differ
        print(f"{name:<16} {int((on_ptb[d] != on_plain[d]).sum()):>9} of {int(d.sum()):<3} "
              f"{np.mean(on_ptb[d] == gold[d]):8.3f} {np.mean(on_plain[d] == gold[d]):9.3f}"
              f"{'':14}{np.mean(on_ptb == gold):8.4f} {np.mean(on_plain == gold):7.4f}")


if __name__ == "__main__":
    main()
