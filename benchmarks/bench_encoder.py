"""Encoder inference throughput: our from-scratch BERT vs `transformers.BertModel`, same weights,
same padded batches. Prints sentences per second for each and the ratio.

    python -m benchmarks.bench_encoder [--device cuda] [--batch 32] [--tokens 32] [--repeats 20]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from minibert.backbone import default_backbone_dir
from minibert.model import load_pretrained


def timed_pair(fn_a, fn_b, repeats: int, sync) -> tuple[float, float]:
    """Median seconds of each, measured alternately so that load on the machine hits both alike."""
    for _ in range(3):  # warm-up: allocator, kernels, caches
        fn_a()
        fn_b()
    sync()
    times_a, times_b = [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, times_a), (fn_b, times_b)):
            start = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - start)
    return statistics.median(times_a), statistics.median(times_b)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU)")
    args = parser.parse_args()
    from transformers import BertModel as HFBertModel

    folder = default_backbone_dir()
    device = torch.device(args.device)
    ours = load_pretrained(folder).to(device).eval()
    theirs = HFBertModel.from_pretrained(str(folder), attn_implementation="sdpa").to(device).eval()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 30000, (args.batch, args.tokens), generator=g)
    mask = torch.ones_like(ids)
    # A realistic batch is ragged: a quarter of the rows are padded to half length.
    mask[: args.batch // 4, args.tokens // 2:] = 0
    ids, mask, types = ids.to(device), mask.to(device), torch.zeros_like(ids).to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16)

    @torch.no_grad()
    def run_ours():
        with autocast:
            ours(ids, mask, types)

    @torch.no_grad()
    def run_theirs():
        with autocast:
            theirs(input_ids=ids, attention_mask=mask, token_type_ids=types)

    t_ours, t_theirs = timed_pair(run_ours, run_theirs, args.repeats, sync)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; batch {args.batch} x {args.tokens} tokens; bf16={args.bf16}; torch {torch.__version__}")
    print(f"minibert     : {args.batch / t_ours:8.1f} sentences/s ({t_ours * 1000:.1f} ms/batch)")
    print(f"transformers : {args.batch / t_theirs:8.1f} sentences/s ({t_theirs * 1000:.1f} ms/batch)")
    print(f"ratio (minibert / transformers throughput): {t_theirs / t_ours:.2f}x")


if __name__ == "__main__":
    main()
