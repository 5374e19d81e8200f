"""How faithful each attribution method is, and what it costs (an evaluation, not a test).

    python -m benchmarks.bench_attributions [--sentences 20] [--variants a,b] [--no-ig]

On the first SST dev sentences of 4 to 30 words, for every variant with its own gradients, each
method's per-word weights on sentiment's explained output (the expected class, 0-4) are judged by
what the model does when words are really taken out, not by another attribution:

- comprehensiveness (ERASER, DeYoung et al. 2020): the output's drop when the fifth of the words
  a method ranks highest is removed from the sentence at once; higher is more faithful. Random
  word choices give the floor.
- sign agreement with each word's own removal effect, on the words whose removal moves the output
  by more than 0.05 (a wrong sign tells a reader the word pulls the other way).

Leave one word out wins the second by construction; the first it has to earn, since it judges
each word alone. Prints per method the mean with a 95 % bootstrap interval over sentences and
variants (scipy), and the median time a variant.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from minibert import explain as X

METHODS = {
    "leave one word out": X.leave_one_out,
    "gradient x input": X.gradient_attribution,
    "Integrated Gradients (32 steps)": lambda v, task, text: X.integrated_gradients(v, task, text, steps=32),
    "attention rollout": X.rollout_attribution,
}
SHARE = 0.2
MIN_EFFECT = 0.05


def word_weights(scorer, text: str, attribution: X.Attribution) -> list[float]:
    """Token weights summed per space-separated word (BERT's tokenizer splits at spaces before
    anything else, so a word's pieces are those it has alone); leave one word out is per word already."""
    words = text.split()
    if len(attribution.weights) == len(words):
        return list(attribution.weights)
    pieces = [len(scorer.tokenizer([w]).input_ids[0]) - 2 for w in words]
    inner = attribution.weights[1:1 + sum(pieces)]  # past [CLS]
    out, i = [], 0
    for n in pieces:
        out.append(float(sum(inner[i:i + n])))
        i += n
    return out


def expected_class(scorer, sentences: list[str]) -> np.ndarray:
    probs = scorer.score("sst", sentences)
    return probs @ np.arange(probs.shape[1])


def without(words: list[str], drop: set[int]) -> str:
    return " ".join(w for i, w in enumerate(words) if i not in drop)


def evaluate(scorer, sentences: list[str], methods: dict, rng: np.random.Generator) -> dict[str, dict[str, list]]:
    out = {m: {"comp": [], "sign": [], "seconds": []} for m in [*methods, "random words"]}
    for text in sentences:
        words = text.split()
        k = max(1, round(SHARE * len(words)))
        base = float(expected_class(scorer, [text])[0])
        singles = base - expected_class(scorer, [without(words, {i}) for i in range(len(words))])
        strong = np.abs(singles) > MIN_EFFECT
        for name, method in methods.items():
            start = time.perf_counter()
            weights = np.array(word_weights(scorer, text, method(scorer, "sst", text)))
            out[name]["seconds"].append(time.perf_counter() - start)
            top = set(np.argsort(-weights, kind="stable")[:k].tolist())
            out[name]["comp"].append(base - float(expected_class(scorer, [without(words, top)])[0]))
            if strong.any() and name != "attention rollout":  # rollout has no sign
                out[name]["sign"].append(float(np.mean(np.sign(weights[strong]) == np.sign(singles[strong]))))
        chosen = set(rng.choice(len(words), size=k, replace=False).tolist())
        out["random words"]["comp"].append(base - float(expected_class(scorer, [without(words, chosen)])[0]))
    return out


def interval(values: list[float]) -> str:
    from scipy.stats import bootstrap

    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return f"{v.mean():+.3f}" if len(v) else "n/a"
    ci = bootstrap((v,), np.mean, n_resamples=2000, random_state=0, method="percentile").confidence_interval
    return f"{v.mean():+.3f} [{ci.low:+.3f}, {ci.high:+.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=20, help="SST dev sentences (default 20)")
    parser.add_argument("--variants", help="comma-separated names (default: every variant with gradients)")
    parser.add_argument("--no-ig", action="store_true", help="leave Integrated Gradients out (the slow one)")
    args = parser.parse_args()

    from demo.context import configure_threads, load_context
    from minibert.data import read_split

    configure_threads(1)
    ctx = load_context(with_analysis=False)
    names = args.variants.split(",") if args.variants else [n for n, v in ctx.variants.items() if v.can_explain]
    sentences = [e.sentence for e in read_split("sst", "dev", os.environ.get("MINIBERT_DATA")).examples
                 if 4 <= len(e.sentence.split()) <= 30][:args.sentences]
    methods = {m: f for m, f in METHODS.items() if not (args.no_ig and m.startswith("Integrated"))}
    rng = np.random.default_rng(0)
    total = {m: {"comp": [], "sign": [], "seconds": []} for m in [*methods, "random words"]}
    for name in names:
        for m, parts in evaluate(ctx.variants[name], sentences, methods, rng).items():
            for key, values in parts.items():
                total[m][key] += values
    print(f"{len(sentences)} SST dev sentences x {len(names)} variants ({', '.join(names)}); one torch thread; "
          f"explained output: expected class 0-4")
    print(f"{'method':<34} {'comprehensiveness (top ' + str(round(100 * SHARE)) + ' % removed)':<40} "
          f"{'sign agreement with removal':<34} median ms")
    for m, parts in total.items():
        ms = f"{1000 * np.median(parts['seconds']):.0f}" if parts["seconds"] else ""
        sign = interval(parts["sign"]) if parts["sign"] else "n/a"
        print(f"{m:<34} {interval(parts['comp']):<40} {sign:<34} {ms}")


if __name__ == "__main__":
    main()
