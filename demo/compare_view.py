"""Compare tab: score one input (or a batch of inputs) with every selected variant.

Plain functions, no Gradio:
    parse_request(task_choice, text_a, text_b)  -> (Request | None, [messages])
    compare_many(variants, [(task_choice, a, b, names)], trust)  -> one CompareResult per user
                                                   (trust: demo.trust_view.trust_of, for dev records and muting)
    score_requests(variants, names, requests)   -> one {task: {variant: output}} per request
    compare(variants, names, task_choice, a, b) -> CompareResult (summary, table, charts, notes)

Batching: every variant is called once per task with the inputs of all the requests that want
that task; an ensemble whose members were just scored is, per task, the mean of that task's members
(`ensemble_outputs`, the rule `Ensemble` applies) instead of a second pass through its members.
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from minibert.predictor import ensemble_outputs
from minibert.tasks import SST, TASK_NAMES, TASKS
from minibert.tasks import task as get_task

from . import bar_charts as B
from . import inputs as I
from .cores import on_both_cores
from .table_widths import shares
from .trust_view import MUTED_MARK, dev_cell
from .verdict import verdict

ALL = "All three"
TASK_CHOICES = [ALL] + [t.title for t in TASKS]
CHOICE_TASKS = {ALL: TASK_NAMES, **{t.title: (t.name,) for t in TASKS}}
MAX_CHARS = 5000          # what is read of an input; the models see at most 128 tokens of it anyway
# How much of each sentence a link to Compare keeps: URL-encoded, two such sentences stay well
# inside what browsers, servers and the Hub's page pass on; longer ones are rare in the datasets.
LINK_CHARS = 500
# Orange (negative) to blue (positive): readable with red-green colour blindness.
SST_COLORS = ("#b35806", "#f1a340", "#bababa", "#67a9cf", "#2166ac")
SHORT_CLASSES = ("v. neg", "neg", "neutral", "pos", "v. pos")
AGREE_COLOR, DISAGREE_COLOR, MUTED_COLOR = "#4c78a8", "#f58518", "#bbbbbb"
PERCENT_TICKS = [(t, f"{t:.0%}") for t in (0, 0.25, 0.5, 0.75, 1.0)]
INSIDE_FROM = 0.5  # a score bar at least this share of its axis holds its value; a shorter one has it beside
DEV_COLUMNS = {t.name: f"{t.dataset} dev{'*' if t.name == 'quora' else ''}" for t in TASKS}

# Compare's table fits a 1440 px desktop: each column's share of the box (demo.table_widths)
WIDTHS = {"variant": 11, "Sentiment": 13, "P(class)": 7, DEV_COLUMNS["sst"]: 11, "Paraphrase": 12,
          "P(duplicate)": 9, DEV_COLUMNS["quora"]: 11, "Similarity (0-5)": 9, DEV_COLUMNS["sts"]: 11}


def table_widths(columns: list[str]) -> list[str]:
    return shares(columns, WIDTHS)


# label, task choice, sentence A, sentence B
EXAMPLES = [
    ("Negation", "Sentiment", "The plot is not bad at all, and the acting is never boring.", ""),
    ("Sarcasm", "Sentiment", "Oh great, another two hours of my life I will never get back. Truly a masterpiece.", ""),
    ("Faint praise", "Sentiment", "It's a perfectly competent film that I had forgotten by the time I reached the car.", ""),
    ("Abbreviations", "All three", "How do I learn ML fast w/o a CS degree?",
     "What's the quickest way to learn machine learning without a computer science degree?"),
    ("One verb apart", "All three", "How do I start a small business in India?", "How do I sell a small business in India?"),
    ("Near-duplicate", "All three", "What is the best way to learn Python?", "How can I learn Python quickly and well?"),
    ("Same words, other meaning", "All three", "A man is playing a guitar.", "A guitar is playing a man."),
    ("Paraphrase", "Similarity", "A woman is slicing an onion.", "Someone is cutting an onion into pieces."),
    ("Emoji", "Sentiment", "Loved every minute of it 😍🔥", ""),
]
DEFAULT_EXAMPLE = EXAMPLES[4]
log = logging.getLogger("minibert.app")


@dataclass(frozen=True)
class Request:
    tasks: tuple[str, ...]
    a: str
    b: str


@dataclass
class CompareResult:
    summary: str                                   # markdown (user text escaped)
    table: pd.DataFrame                            # one row per variant
    charts: dict = field(default_factory=dict)     # task -> HTML bar chart (demo.bar_charts)
    notes: list[str] = field(default_factory=list)  # input notes (truncation, missing sentence B, ...)
    disagree: dict = field(default_factory=dict)   # task -> [variant names against the majority]
    outputs: dict = field(default_factory=dict)    # task -> {variant: np.ndarray output}
    seconds: float = 0.0
    request: Request | None = None                 # what was scored (None: nothing could be)

    def scores(self) -> dict | None:
        """What the attributions and the next comparison need of this result, as plain JSON: the
        sentences scored and every variant's output per task (a failed one left out)."""
        if self.request is None:
            return None
        return {"a": self.request.a, "b": self.request.b,
                "outputs": {t: {n: np.asarray(o).tolist() for n, o in outs.items() if not isinstance(o, dict)}
                            for t, outs in self.outputs.items()}}


def clean_text(text: object, what: str = "The text") -> tuple[str, bool]:
    """Strip the input and cut it at MAX_CHARS; returns (text, was_cut). BadInput for a
    value that is not text."""
    text = I.text(text, what).strip()
    if len(text) > MAX_CHARS:
        return text[:MAX_CHARS], True
    return text, False


def parse_request(task_choice: object, text_a: object, text_b: object) -> tuple[Request | None, list[str]]:
    """Validate one input. Returns (None, [reason]) when nothing can be scored; every reason
    is safe to show as Markdown."""
    try:
        tasks = CHOICE_TASKS[I.choice(task_choice, TASK_CHOICES, "task", default=ALL)]
        a, cut_a = clean_text(text_a, "Sentence A")
        b, cut_b = clean_text(text_b, "Sentence B")
    except I.BadInput as exc:
        return None, [str(exc)]
    notes = []
    if cut_a or cut_b:
        notes.append(f"Only the first {MAX_CHARS:,} characters of a long input are read.")
    long = [label for label, text in (("Sentence A", a), ("Sentence B", b)) if len(text) > LINK_CHARS]
    if long:
        notes.append(f"A link to this view keeps only the first {LINK_CHARS:,} characters of {' and '.join(long)} "
                     "(and says so when opened).")
    if not a and not b:
        return None, ["Type a sentence in **Sentence A** (and a second one in **Sentence B** for paraphrase "
                      "and similarity), or click one of the examples."]
    if not a:  # only B given: treat it as A for sentiment, and pairs need both
        a, b = b, ""
        notes.append("Sentence A was empty, so Sentence B was used as Sentence A.")
    pair_tasks = [t for t in tasks if get_task(t).pair]
    if pair_tasks and not b:
        if "sst" in tasks:
            notes.append("Paraphrase and similarity need two sentences: type one in **Sentence B** to score them.")
            tasks = ("sst",)
        else:
            return None, [f"{get_task(pair_tasks[0]).title} compares two sentences: type one in **Sentence B** too."]
    return Request(tuple(tasks), a, b), scored_notes(tasks, a, b) + notes


QUOTED_CHARS = 60  # of a sentence quoted back in a note


def _quoted(text: str) -> str:
    return I.escape_md(text if len(text) <= QUOTED_CHARS else text[:QUOTED_CHARS - 1] + "…")


def scored_notes(tasks: tuple[str, ...], a: str, b: str) -> list[str]:
    """What was read for which task, said when "All three" mixes a one-sentence task with the pair
    tasks: Sentence B (perhaps left over from an earlier input) is then paired with A in plain view,
    and a question's sentiment verdict comes with its caveat."""
    notes = []
    pair = [get_task(t).title.lower() for t in tasks if get_task(t).pair]
    if "sst" in tasks and pair:
        notes.append(f"Scored: the sentiment of Sentence A only; {' and '.join(pair)} of Sentence A with Sentence B "
                     f"(“{_quoted(b)}”). For sentiment alone, pick **Sentiment**.")
    if "sst" in tasks and a.rstrip().endswith("?"):
        notes.append("Sentence A is a question: the sentiment heads learnt from movie-review sentences (SST), so "
                     "their verdict on a question says little.")
    return notes


def truncation_notes(variants: dict, names: list[str], request: Request) -> list[str]:
    """A note for each sentence (or pair, for cross-encoders) that a tokenizer had to cut."""
    pairs = bool(request.b) and bool(set(request.tasks) - {"sst"})
    models = {}
    for name in names:
        variant = variants[name]
        for member in variant.members or [variant]:
            models[member.name] = member
    notes, seen = [], set()
    for member in models.values():
        tok = getattr(member, "tokenizer", None)
        if tok is None:  # a live model tokenizes in its own way, unseen here
            continue
        cross = pairs and member.recipe.pair_encoding == "cross"
        key = (tok.max_length, cross)
        if key in seen:
            continue
        seen.add(key)
        texts = [("Sentence A", [request.a], None)] + ([("Sentence B", [request.b], None)] if pairs else [])
        if cross:
            texts.append(("The pair", [request.a], [request.b]))
        for label, first, second in texts:
            ((_, _, cut),) = tok.encode_ids(first, second)
            note = (f"{label} is longer than {tok.max_length} tokens: the models read only the first {tok.max_length}."
                    if label != "The pair" else
                    f"The two sentences together are longer than {tok.max_length} tokens: the cross-encoders "
                    "read a shortened pair.")
            if cut and note not in notes:
                notes.append(note)
    return notes


def _needed(variants: dict, names: list[str]) -> list[str]:
    """Names to run, models first; members of a selected ensemble are run too (once)."""
    need = dict.fromkeys(n for n in names if n in variants)
    for n in list(need):
        need.update(dict.fromkeys(m.name for m in variants[n].members if m.name in variants))
    return sorted(need, key=lambda n: (bool(variants[n].members), n))


def _units(variants: dict, names: list[str]) -> list[list[str]]:
    """The models among `names` in pieces that can run side by side: variants that share an
    embedding memo (the frozen ones) stay in one piece, so a sentence is encoded once for them.
    Cross-encoders first: the costliest pieces taken first leave the two threads even at the end."""
    units: dict[int, list[str]] = {}
    for n in names:
        units.setdefault(id(getattr(variants[n], "memo", None) or variants[n]), []).append(n)
    cross = {k for k, unit in units.items()
             if any(getattr(getattr(variants[n], "recipe", None), "pair_encoding", "") == "cross" for n in unit)}
    return [units[k] for k in sorted(units, key=lambda k: k not in cross)]


def score_requests(variants: dict, names: list[str], requests: list[Request | None],
                   spare: Callable[[], bool] | None = None) -> list[dict]:
    """Per request: {task: {variant: output}} with SST (5,) probabilities, Quora P(duplicate),
    STS score. Each variant is called once for every task of every request (`score_tasks`: one
    encoder pass where the recipe allows); an ensemble whose members were all scored is their
    mean, not a second pass. A variant that fails is given {"error": message} instead. With
    `spare`, the models are scored on two threads while it holds (demo.cores: the same outputs)."""
    results = [dict() for _ in requests]
    idx = {t: [i for i, r in enumerate(requests) if r is not None and t in r.tasks] for t in TASK_NAMES}
    inputs = {t: [(requests[i].a, requests[i].b) if get_task(t).pair else requests[i].a for i in ix]
              for t, ix in idx.items() if ix}
    if not inputs:
        return results
    outputs: dict[str, dict[str, np.ndarray] | str] = {}

    def run(name: str) -> None:
        variant = variants[name]
        try:
            members = [m.name for m in variant.members]
            if members and all(isinstance(outputs.get(m), dict) for m in members):
                outputs[name] = ensemble_outputs(variant, outputs, inputs)
            else:
                outputs[name] = variant.score_tasks(inputs)
        except Exception as exc:  # one broken variant must not take the others down
            outputs[name] = f"{type(exc).__name__}: {exc}"

    needed = _needed(variants, names)
    models = [n for n in needed if not variants[n].members]
    # a live model (the host's own code) may not be thread-safe: only the caller's thread runs it
    on_both_cores(_units(variants, models), lambda unit: [run(n) for n in unit], spare,
                  lambda unit: all(variants[n].can_explain for n in unit))
    for name in needed:
        if variants[name].members:
            run(name)
    for t, ix in idx.items():
        for k, i in enumerate(ix):
            results[i][t] = {n: (outputs[n][t][k] if isinstance(outputs[n], dict) else {"error": outputs[n]})
                             for n in names if n in outputs}
    return results


# --- charts ------------------------------------------------------------------------------------

def _label(name: str, disagree: list[str], muted: dict) -> tuple[str, str]:
    """A bar's label and mark: ⚠ against the majority, the muted mark for a muted head."""
    if name in disagree:
        return f"⚠ {name}", "disagree"
    if name in muted:
        return f"{MUTED_MARK} {name}", "muted"
    return name, ""


def sst_chart(outputs: dict, disagree: list[str], muted: dict | None = None) -> str:
    names = [n for n, o in outputs.items() if not isinstance(o, dict)]
    bars = []
    for n in names:
        probs = np.asarray(outputs[n], dtype=float).reshape(5)
        label, mark = _label(n, disagree, muted or {})
        bars.append(B.Bar(label, tuple(B.Segment(float(p), SST_COLORS[c], f"{p:.0%}" if p >= 0.12 else "",
                                                 f"{SST.classes[c]}: {p:.1%}") for c, p in enumerate(probs)),
                          mark=mark))
    return B.bar_chart("Sentiment: class probabilities per variant", bars, PERCENT_TICKS,
                       legend=list(zip(SHORT_CLASSES, SST_COLORS)))


def _score_chart(outputs: dict, disagree: list[str], muted: dict, title: str, top: float,
                 reference: B.Reference | None, fmt: Callable[[float], str], ticks: list[float]) -> str:
    bars = []
    for n in (n for n, o in outputs.items() if not isinstance(o, dict)):
        value = float(outputs[n])
        label, mark = _label(n, disagree, muted)
        color = {"disagree": DISAGREE_COLOR, "muted": MUTED_COLOR}.get(mark, AGREE_COLOR)
        share = value / top
        # the value on a long bar, just past the end of a short one, so it never runs past the chart
        inside = share >= INSIDE_FROM
        bars.append(B.Bar(label, (B.Segment(share, color, fmt(value) if inside else "", f"{value:.3f}"),),
                          aside="" if inside else fmt(value), mark=mark))
    return B.bar_chart(title, bars, [(t / top, f"{t:g}") for t in ticks], reference=reference)


def quora_chart(outputs: dict, disagree: list[str], muted: dict | None = None) -> str:
    return _score_chart(outputs, disagree, muted or {}, "Paraphrase: P(duplicate) per variant", 1.0,
                        B.Reference(0.5, "threshold 0.5"),
                        lambda v: f"{v:.2f} {'duplicate' if v >= 0.5 else 'not dup.'}", [0, 0.25, 0.5, 0.75, 1.0])


def sts_chart(outputs: dict, disagree: list[str], median: float | None, muted: dict | None = None) -> str:
    reference = B.Reference(median / 5.0, f"median {median:.2f}") if median is not None else None
    return _score_chart(outputs, disagree, muted or {}, "Similarity per variant (0 = unrelated, 5 = same meaning)",
                        5.0, reference, lambda v: f"{v:.2f}", [0, 1, 2, 3, 4, 5])


# --- one input, end to end ---------------------------------------------------------------------

def result_for(variants: dict, names: list[str], request: Request, scored: dict, notes: list[str],
               seconds: float, trust: dict | None = None) -> CompareResult:
    """Table, charts and summary of one scored request. `trust` ({variant: {task: HeadTrust}},
    demo.trust_view) adds each variant's dev record and leaves muted heads out of the vote."""
    trust = trust or {}
    singles = [n for n in names if not variants[n].members]
    ensembles = [n for n in names if variants[n].members]
    rows = {n: {"variant": n} for n in names}
    charts, disagree, lines = {}, {}, []
    for task in TASK_NAMES:
        if task not in scored:
            continue
        spec = get_task(task)
        outputs = scored[task]
        heads = {n: (trust.get(n) or {}).get(task) for n in names}
        muted = {n: h.muted for n, h in heads.items() if h is not None and h.muted}
        v = verdict(task, outputs, singles, ensembles, muted)
        lines.append(v.text)
        disagree[task] = v.disagree
        for n, o in outputs.items():
            flag = "⚠ " if n in v.disagree else f"{MUTED_MARK} " if n in muted else ""
            if isinstance(o, dict):
                rows[n][spec.title] = f"error: {o['error']}"
            elif spec.multiclass:
                c = int(np.argmax(o))
                rows[n]["Sentiment"] = flag + SST.label_text(c)
                rows[n]["P(class)"] = round(float(o[c]), 3)
            elif spec.binary:
                rows[n]["Paraphrase"] = flag + ("duplicate" if float(o) >= 0.5 else "not duplicate")
                rows[n]["P(duplicate)"] = round(float(o), 3)
            else:
                rows[n]["Similarity (0-5)"] = flag + f"{float(o):.2f}"
            if trust:
                rows[n][DEV_COLUMNS[task]] = dev_cell(heads[n])
        if all(isinstance(o, dict) for o in outputs.values()):
            continue
        if spec.multiclass:
            charts[task] = sst_chart(outputs, v.disagree, muted)
        elif spec.binary:
            charts[task] = quora_chart(outputs, v.disagree, muted)
        else:
            charts[task] = sts_chart(outputs, v.disagree, v.centre, muted)
    table = pd.DataFrame(list(rows.values()))
    errors = {n for t in scored.values() for n, o in t.items() if isinstance(o, dict)}
    head = (f"{len(names)} variant{'s' if len(names) != 1 else ''} × {len(scored)} task{'s' if len(scored) != 1 else ''}"
            f" in {seconds * 1000:.0f} ms" + (f" · {len(errors)} failed" if errors else ""))
    legend = ("⚠ marks a variant against the majority of the trusted single variants (for sentiment: against "
              f"the majority polarity); {MUTED_MARK} a head no better than a trivial baseline on dev, shown but "
              "left out of the vote. * Quora dev numbers are optimistic: the backbone saw Quora duplicates in "
              "pre-training." if trust else
              "⚠ marks a variant against the majority of the single variants. No dev metrics are at hand "
              "(no analysis tables), so every head votes.")
    summary = "\n\n".join(lines + [f"<small>{head}. {legend}</small>"])
    return CompareResult(summary=summary, table=table, charts=charts, notes=notes, disagree=disagree,
                         outputs=scored, seconds=seconds, request=request)


def message(text: str, notes: list[str] | None = None) -> CompareResult:
    """A result that only says something (nothing could be scored)."""
    return CompareResult(summary=text, table=pd.DataFrame(), notes=list(notes or []))


def compare_many(variants: dict, inputs: list[tuple], trust: dict | None = None,
                 spare: Callable[[], bool] | None = None) -> list[CompareResult]:
    """The batched entry point: inputs are (task_choice, sentence A, sentence B, variant names),
    one per user. Each is validated on its own: a malformed one is answered with its own message
    and never changes what the others get. Requests that chose the same variants are scored
    together, one model call per variant for all of them (on two threads while `spare()` holds:
    `score_requests`)."""
    if not variants:
        return [message("No variants are loaded: put checkpoints in the checkpoints folder and restart.")
                for _ in inputs]
    results: list[CompareResult | None] = [None] * len(inputs)
    groups: dict[tuple[str, ...], list[tuple[int, Request, list[str]]]] = {}
    for i, item in enumerate(inputs):
        try:
            choice, a, b, chosen = item
            names = I.names(chosen, variants)
        except (ValueError, TypeError) as exc:  # BadInput, or not four values
            results[i] = message(str(exc) if isinstance(exc, I.BadInput) else
                                 "A request needs four values: task, sentence A, sentence B, variants.")
            continue
        request, notes = parse_request(choice, a, b)
        if request is None:
            results[i] = message(notes[0], notes[1:])
            continue
        groups.setdefault(tuple(names), []).append((i, request, notes))
    for key, members in groups.items():
        names = list(key)
        start = time.perf_counter()
        scored = score_requests(variants, names, [r for _, r, _ in members], spare)
        if len(members) > 1 and any(_failed(out) for out in scored):
            # One request the checks did not foresee can fail a variant for the whole group: score
            # each request alone then, so that a fault stays with the request that caused it.
            scored = [score_requests(variants, names, [r], spare)[0] for _, r, _ in members]
        seconds = (time.perf_counter() - start) / len(members)
        for (i, request, notes), out in zip(members, scored):
            try:
                results[i] = result_for(variants, names, request, out, notes + truncation_notes(variants, names, request),
                                        seconds, trust)
            except Exception:  # a fault of ours with this request: logged, and only its sender is told
                log.error("compare: a request could not be answered:\n%s", traceback.format_exc())
                results[i] = message(I.SERVER_TROUBLE)
    return results


def warm_up(variants: dict, trust: dict | None = None) -> float:
    """Score the default example once on both threads, as a click would, and return the seconds it
    took: a process's first scoring runs each model for the first time, many times slower than the
    next (docs/BENCHMARKS.md), a cost for start-up to pay, not the first visitor's click. A model
    that fails is answered as a click's would be (compare_many); anything else raised here is logged
    and left to the first click: it must not keep the app from starting."""
    start = time.perf_counter()
    if variants:
        _, choice, a, b = DEFAULT_EXAMPLE
        try:
            compare_many(variants, [(choice, a, b, list(variants))], trust, lambda: True)
        except Exception:
            log.warning("the start-up scoring failed; the first click will meet it:\n%s", traceback.format_exc())
    return time.perf_counter() - start


def _failed(scored: dict) -> bool:
    return any(isinstance(o, dict) for outputs in scored.values() for o in outputs.values())


def compare(variants: dict, names: list[str] | None, task_choice: str, a: str, b: str,
            trust: dict | None = None) -> CompareResult:
    return compare_many(variants, [(task_choice, a, b, list(variants) if names is None else names)], trust)[0]


class RecentScores:
    """The outputs of the last few hundred inputs Compare scored, by their sentences: what the
    steps after a scoring (before -> after, the two variants that disagree most) read instead of
    scoring again. A batched event cannot hand them on in per-user state (Gradio runs a batch in
    one session's state), and a variant's output for a sentence does not depend on who asked."""

    def __init__(self, size: int = 256):
        self.size = size
        self._items: OrderedDict[tuple[str, str], dict] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, result: CompareResult) -> None:
        scores = result.scores()
        if scores is None:
            return
        key = (scores["a"], scores["b"])
        with self._lock:
            merged = self._items.pop(key, {"a": scores["a"], "b": scores["b"], "outputs": {}})
            for t, outs in scores["outputs"].items():
                merged["outputs"].setdefault(t, {}).update(outs)
            self._items[key] = merged
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, a: str, b: str) -> dict | None:
        with self._lock:
            found = self._items.get((a, b))
            return None if found is None else {**found, "outputs": {t: dict(o) for t, o in found["outputs"].items()}}
