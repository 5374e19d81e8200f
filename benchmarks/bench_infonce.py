"""How much the `infonce` recipe's contrastive term can teach this backbone: its size at the start of
training (the backbone as shipped, heads untrained) beside the Quora BCE term it is added to,
over random batches of Quora train pairs of the recipe's size (in-batch negatives, duplicates
as positives; training batches pairs of similar length instead).

    python -m benchmarks.bench_infonce [--batches 100] [--temperatures 0.05,0.1,1] [--data-dir DIR]

all-MiniLM-L6-v2 was trained with this very loss on Quora duplicates, so a term near 0 means the
variant can differ little from `sbert-concat`.
"""
from __future__ import annotations

import argparse
import random
import statistics

import torch
import torch.nn.functional as F

from minibert.backbone import default_backbone_dir
from minibert.data import read_split, resolve_data_dir
from minibert.heads import info_nce
from minibert.network import build_model
from minibert.recipes import get_recipe
from minibert.tokenizer import Tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--temperatures", default="0.05,0.1,1", help="comma-separated; the recipe's is 0.05")
    parser.add_argument("--data-dir", help="folder with the CS224N csv files (default: $MINIBERT_DATA, else data/)")
    args = parser.parse_args()
    temperatures = [float(t) for t in args.temperatures.split(",")]

    torch.manual_seed(0)
    recipe = get_recipe("infonce")
    backbone = default_backbone_dir()
    model = build_model(recipe, backbone).eval()
    tokenizer = Tokenizer(backbone, max_length=recipe.max_length)
    pairs = read_split("quora", "train", resolve_data_dir(args.data_dir)).examples
    random.Random(0).shuffle(pairs)
    size = recipe.batch_size
    terms: dict[float, list[float]] = {t: [] for t in temperatures}
    bce, positives = [], []
    with torch.no_grad():
        for i in range(args.batches):
            batch = pairs[i * size:(i + 1) * size]
            if len(batch) < size:
                break
            labels = torch.tensor([float(e.label) for e in batch])
            pooled = model.embed(tokenizer([e.sentence1 for e in batch] + [e.sentence2 for e in batch])).pooled
            u, v = pooled[:size], pooled[size:]
            for t in temperatures:
                terms[t].append(float(info_nce(u, v, t, keep=labels > 0.5)))
            bce.append(float(F.binary_cross_entropy_with_logits(model.pair_heads["quora"](u, v).float(), labels)))
            positives.append(int((labels > 0.5).sum()))
    print(f"{len(bce)} batches of {size} Quora train pairs, {statistics.mean(positives):.1f} duplicates a batch")
    for t, values in terms.items():
        mark = " (the recipe's)" if t == recipe.temperature else ""
        print(f"InfoNCE at temperature {t:g}{mark}: mean {statistics.mean(values):.2e}, max {max(values):.2e}")
    print(f"Quora BCE beside it (untrained head): mean {statistics.mean(bce):.3f}")


if __name__ == "__main__":
    main()
