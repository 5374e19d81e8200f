"""The README's results table, generated from `summary.json`: never typed by hand.

    python -m analysis report            # rewrite the table between the README's markers
    python -m analysis report --check    # exit 1 when the README's table and the summary disagree
"""
from __future__ import annotations

from pathlib import Path

from minibert.metrics import overall_score
from minibert.reruns import describe, describe_lr_tries

from .formatting import duration, metric
from .schema import DEFAULT_TABLES_DIR
from .tables import read_summary

START, END = "<!-- results:start -->", "<!-- results:end -->"

# Published figures, carried over with their source. The overall score of a paper that did not
# report one is computed here from its three numbers and marked so.
PUBLISHED = [
    ("The Best of BERT Worlds (CS224N 2023), test set", 0.532, 0.789, 0.854, 0.749, False),
    ("minBERT and Downstream Tasks (CS224N 2023), dev set", 0.508, 0.783, 0.657, None, True),
    ("Reference fine-tune of this backbone (HANDBOOK section 3), dev set", 0.497, 0.847, 0.865, 0.755, False),
]


def _throughput(training: dict) -> str:
    speed = training.get("train_sentences_per_second")
    if not speed:
        return "n/a"
    # A frozen-encoder run (it records how long its features took) trains heads on cached
    # vectors: its figure is not encoder throughput, so it is not shown as one.
    return "heads only" if "features_seconds" in training else f"{speed:,.0f}"


def _split_half_row(name: str, choice: dict) -> str:
    """An ensemble's honest figure, beside its dev-chosen row: per task, members chosen on one half
    of dev and scored on the other (`python -m analysis ensemble --halves --write` records it)."""
    half = choice["split_half"]
    return (f"| `{name}`, split-half ‡ | {metric(half.get('sst_accuracy'))} | {metric(half.get('quora_accuracy'))} | "
            f"{metric(half.get('sts_pearson'))} | {metric(half.get('overall'))} | n/a | n/a | members chosen on the "
            "other half of dev |")


def _split_half_note(name: str, choice: dict, summary: dict) -> str:
    half, lo_hi = choice["split_half"], choice["split_half"].get("overall_ci") or [None, None]
    current = {v: ((item.get("checkpoint") or {}).get("hash")) for v, item in summary["variants"].items()}
    changed = sorted(v for v, h in (choice.get("candidates") or {}).items() if current.get(v) != h)
    note = (f"‡ `{name}`: {choice.get('rule', 'members chosen on dev')}. Its own row is chosen and scored on all of dev, "
            f"so it is optimistic; the split-half row chooses by the same rule on one half of each task's dev set "
            f"(numpy default_rng({half.get('seed')})) and scores the other, both ways, the mean of the two halves, "
            f"overall 95 % interval {metric(lo_hi[0])}-{metric(lo_hi[1])} ({half.get('n_boot')} bootstrap resamples); "
            f"written by `{choice.get('command')}`.")
    if changed:
        note += (f" Stale: {', '.join(changed)} changed since; rerun that command, then `python -m analysis build`.")
    return note


def results_table(summary: dict) -> str:
    rows = ["| variant | SST acc | Quora acc † | STS Pearson | overall | training time | train sentences/s | hardware |",
            "|---|---|---|---|---|---|---|---|"]
    order = sorted(summary["variants"].items(), key=lambda kv: -(kv[1].get("overall") or 0.0))
    for name, item in order:
        tasks = item.get("tasks", {})
        training = item.get("training") or {}
        hardware = training.get("hardware") or ("composed at prediction time" if name == "ensemble" else "n/a")
        rows.append(f"| `{name}` | {metric(tasks.get('sst', {}).get('accuracy'))} | "
                    f"{metric(tasks.get('quora', {}).get('accuracy'))} | {metric(tasks.get('sts', {}).get('pearson'))} | "
                    f"{metric(item.get('overall'))} | {duration(training.get('wall_seconds'))} | "
                    f"{_throughput(training)} | {hardware} |")
        if (training.get("member_choice") or {}).get("split_half"):
            rows.append(_split_half_row(name, training["member_choice"]))
    for source, sst, quora, sts, overall, computed in PUBLISHED:
        if overall is None:
            overall = overall_score(sst, quora, sts)
        mark = " (computed)" if computed else ""
        rows.append(f"| {source} | {sst:.3f} | {quora:.3f} | {sts:.3f} | {overall:.3f}{mark} | | | |")
    rows.append("")
    for name, item in order:
        training = item.get("training") or {}
        if training.get("seed_replicates"):
            rows.append(f"Seed spread: {describe(name, training['seed_replicates'])}.")
        if training.get("lr_tries"):
            rows.append(f"{describe_lr_tries(name, training['lr_tries'])}.")
    for name, item in order:
        choice = (item.get("training") or {}).get("member_choice") or {}
        if choice.get("split_half"):
            rows.append(_split_half_note(name, choice, summary))
    rows.append("† Quora: the backbone (all-MiniLM-L6-v2) was pretrained on 103,663 Quora duplicate pairs, so "
                "these numbers are optimistic; and our `quora-train.csv` is partial (22,646 of 141,506 pairs, 16 %).")
    rows.append("Dev-set figures from `analysis/tables/summary.json`, written by `python -m analysis build`; "
                "this table is written by `python -m analysis report`.")
    return "\n".join(rows)


def render(readme_text: str, table: str) -> str:
    if START not in readme_text or END not in readme_text:
        raise ValueError(f"the README has no {START} ... {END} markers to put the results table between")
    head, rest = readme_text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def report(readme: Path = Path("README.md"), tables_dir: Path | None = None, check: bool = False) -> int:
    summary, problems = read_summary(Path(tables_dir) if tables_dir else DEFAULT_TABLES_DIR)
    if summary is None:
        print("error: " + "; ".join(problems))
        return 2
    text = readme.read_text()
    new = render(text, results_table(summary))
    if check:
        if new != text:
            print(f"{readme}: the results table differs from the summary; run `python -m analysis report`")
            return 1
        print(f"{readme}: results table matches the summary")
        return 0
    readme.write_text(new)
    print(f"wrote the results table into {readme} ({len(summary['variants'])} variants)")
    return 0
