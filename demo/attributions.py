"""Compare's "why do they disagree?": token attributions of up to four variants side by side, on
one shared colour scale (blue pushes the explained output up, orange pushes it down: readable with
red-green colour blindness).

    explain(variants, names, task_choice, a, b, method, scored=None, muted=None) -> HTML

`names` empty means "the two that disagree most on this input": the pair of explainable variants
whose explained outputs lie furthest apart, read from `scored` (Compare's outputs for this very
input) when given, else scored here. Plain functions, no Gradio.
"""
from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np

from analysis import signed as signed_text
from minibert import explain as X
from minibert.tasks import QUORA_THRESHOLD, SST
from minibert.tasks import task as get_task

from . import inputs as I
from .compare_view import parse_request
from .cores import on_both_cores

LOO, GRADIENT, IG, ROLLOUT = ("leave one word out", "gradient × input", "Integrated Gradients (slower)",
                              "attention rollout")
METHODS = (LOO, GRADIENT, IG, ROLLOUT)
# The default reads true where gradient x input does not: judged by really removing words
# (`python -m benchmarks.bench_attributions`: 20 SST dev sentences x the 11 shipped variants with
# gradients), taking out the fifth of the words each method ranks highest lowers the expected class
# by 0.69 for leave one word out, 0.60 for Integrated Gradients and 0.12 for gradient x input, no
# better than random words (0.11); gradient x input's signs agree with each word's own removal
# effect 55 % of the time. It costs a batch of n short inputs a variant and no backward pass.
DEFAULT_METHOD = LOO
MAX_VARIANTS = 4
IG_STEPS = 32
UP_RGB, DOWN_RGB = "33,102,172", "230,97,1"  # blue, orange
SPECIAL = frozenset({"[CLS]", "[SEP]", "[PAD]"})
UNITS = {"sst": "expected class (0 very negative – 4 very positive)", "quora": "paraphrase logit (towards duplicate)",
         "sts": "similarity score (0–5, before clipping)"}


def box(message: str) -> str:
    return f'<div class="attr-box">{message}</div>'


def merge_wordpieces(tokens: list[tuple[str, float]]) -> list[list[tuple[str, float]]]:
    """Split at [SEP] into sentences, merge "##" pieces into words (weights summed), drop
    [CLS]/[SEP]/[PAD]. Returns one list of (word, weight) per sentence."""
    segments, words = [], []
    for tok, w in tokens:
        if tok == "[SEP]":
            if words:
                segments.append(words)
            words = []
            continue
        if tok in SPECIAL:
            continue
        if tok.startswith("##") and words:
            prev, pw = words[-1]
            words[-1] = (prev + tok[2:], pw + w)
        else:
            words.append((tok, w))
    if words:
        segments.append(words)
    return segments


def _lines(segments: list[list[tuple[str, float]]], scale: float, signed: bool) -> str:
    parts = []
    for k, seg in enumerate(segments):
        spans = []
        for word, w in seg:
            x = w / scale
            rgb = UP_RGB if (x >= 0 or not signed) else DOWN_RGB
            alpha = min(0.85, abs(x) * 0.85)
            spans.append(f'<span class="attr-tok" style="background: rgba({rgb},{alpha:.2f})" '
                         f'title="{w:+.3g}">{html.escape(word)}</span>')
        label = f'<span class="attr-label">{"AB"[k] if k < 2 else ""}</span>' if len(segments) > 1 else ""
        parts.append(f'<div class="attr-line">{label}{" ".join(spans)}</div>')
    return "".join(parts) or "<em>no tokens</em>"


def answer_text(task: str, output: object) -> str:
    """A variant's answer in a few words, with the explained quantity."""
    spec = get_task(task)
    if spec.multiclass:
        p = np.asarray(output, dtype=float)
        return f"{SST.classes[int(np.argmax(p))]} (expected class {float(p @ np.arange(len(p))):.2f})"
    if spec.binary:
        return f"{'duplicate' if float(output) >= QUORA_THRESHOLD else 'not duplicate'} (P {float(output):.2f})"
    return f"similarity {float(output):.2f}"


def explained_value(task: str, output: object) -> float:
    """Where an answer lies on the scale the attributions explain (SST expected class, P(duplicate),
    STS score): what "disagree most" measures."""
    if get_task(task).multiclass:
        p = np.asarray(output, dtype=float)
        return float(p @ np.arange(len(p)))
    return float(output)


def most_apart(task: str, outputs: dict, candidates: list[str]) -> list[str]:
    """The two candidates whose answers lie furthest apart (ties: the first in `candidates` order)."""
    values = {n: explained_value(task, outputs[n]) for n in candidates
              if n in outputs and not isinstance(outputs[n], dict)}
    if len(values) < 2:
        return list(values)
    low = min(values, key=values.get)
    high = max(values, key=values.get)
    if low == high:
        return list(values)[:2]
    return [n for n in candidates if n in (low, high)]


def _attribution(variant: object, task: str, a: str, b: str | None, method: str,
                 known: object = None) -> X.Attribution:
    """`known`: the variant's output for this input from Compare, which leave one word out reuses."""
    if method == IG:
        return X.integrated_gradients(variant, task, a, b, steps=IG_STEPS)
    if method == ROLLOUT:
        return X.rollout_attribution(variant, task, a, b)
    if method == LOO:
        return X.leave_one_out(variant, task, a, b, known=known)
    return X.gradient_attribution(variant, task, a, b)


def explain(variants: dict, names: object, task_choice: object, a: object, b: object, method: object = DEFAULT_METHOD,
            scored: dict | None = None, muted: dict | None = None, spare: Callable[[], bool] | None = None) -> str:
    """Attributions of up to four variants for the first task of `task_choice`, as HTML. `scored`:
    Compare's last result (`CompareResult.scores()`), whose outputs find the two that disagree most
    when no variant is named, if it was for this input; `muted`: {task: variants} left out of that
    choice; `spare`: the variants are explained on two threads while it holds (demo.cores)."""
    explainable = [n for n, v in variants.items() if v.can_explain]
    if not explainable:
        return box("No variant with its own gradients is loaded (an ensemble has none).")
    try:
        names = [] if names in (None, "", []) else I.names(names, list(variants))
        method = I.choice(method, METHODS, "method", default=DEFAULT_METHOD)
    except I.BadInput as exc:
        return box(I.as_html(str(exc)))
    for n in names:
        if not variants[n].can_explain and not variants[n].members:
            return box(f"{html.escape(n)} is a live model, scored through its three calls only: no attributions.")
        if not variants[n].can_explain:
            return box("An ensemble averages its members and has no single gradient: pick its members "
                       f"({html.escape(', '.join(m.name for m in variants[n].members))}).")
    request, notes = parse_request(task_choice, a, b)
    if request is None:
        return box(I.as_html(notes[0]))
    task = request.tasks[0]
    pair = get_task(task).pair
    second = request.b if pair else None
    note = ""
    if len(names) > MAX_VARIANTS:
        note = f"Only the first {MAX_VARIANTS} ticked variants are shown. "
        names = names[:MAX_VARIANTS]
    # Compare's outputs, when they are for this very input (the boxes may have been edited since)
    same = scored is not None and scored.get("a") == request.a and scored.get("b") == request.b
    outputs = dict(((scored or {}).get("outputs") or {}).get(task) or {}) if same else {}
    if not names:
        trusted = [n for n in explainable if n not in (muted or {}).get(task, ())]
        trusted = trusted if len(trusted) >= 2 else explainable  # two to compare, muted ones if need be
        item = (request.a, request.b) if pair else request.a
        for n in trusted:  # only when Compare's outputs for this input are not at hand (an API call)
            if n not in outputs:
                outputs[n] = variants[n].score(task, [item])[0]
        names = most_apart(task, outputs, trusted)
        note += (f"The two variants whose answers lie furthest apart here: {html.escape(' and '.join(names))}. "
                 if len(names) == 2 else "")
    def attribution(n: str) -> X.Attribution | str:
        try:
            known = outputs.get(n)
            return _attribution(variants[n], task, request.a, second, method,
                                None if known is None or isinstance(known, dict) else np.asarray(known))
        except Exception as exc:  # one variant's failure is shown in its panel
            return f"{type(exc).__name__}: {exc}"

    done = on_both_cores(names, attribution, spare)
    attrs = {n: done[k] for k, n in enumerate(names)}
    return panels(task, method, attrs, outputs, note, set((muted or {}).get(task, ())))


def panels(task: str, method: str, attrs: dict, outputs: dict, note: str = "", muted: set | None = None) -> str:
    """The panels side by side on one scale (the largest word weight of all of them)."""
    signed = method != ROLLOUT
    merged = {n: merge_wordpieces(list(zip(a.tokens, a.weights))) for n, a in attrs.items()
              if isinstance(a, X.Attribution)}
    scale = max((abs(w) for segs in merged.values() for seg in segs for _, w in seg), default=0.0) or 1.0
    cells = []
    for n, a in attrs.items():
        head = f'<div class="attr-head">{html.escape(n)}'
        if n in outputs and not isinstance(outputs[n], dict):
            head += f' <span class="attr-answer">says {html.escape(answer_text(task, outputs[n]))}</span>'
        if n in (muted or ()):
            head += ' <span class="attr-answer">⊘ muted for this task</span>'
        head += "</div>"
        if not isinstance(a, X.Attribution):
            cells.append(f'<div class="attr-panel">{head}Attributions failed: {html.escape(a)}</div>')
            continue
        foot = ""
        if a.baseline_output is not None:
            foot = (f'<div class="attr-foot">sum of attributions {signed_text(sum(a.weights))}; output moved '
                    f"{signed_text(a.output - a.baseline_output)} from the all-[PAD] baseline "
                    f"(completeness gap {a.completeness_gap:.1%}, {a.steps} steps)</div>")
        cells.append(f'<div class="attr-panel">{head}{_lines(merged[n], scale, signed)}{foot}</div>')
    title = (f'<div class="attr-title">{html.escape(get_task(task).title)} · {html.escape(method)}</div>'
             + (f'<div class="attr-note">{note}</div>' if note else ""))
    if signed:
        how = ("how much the answer drops when the word alone is removed" if method == LOO else
               "a local slope: it can point the wrong way where a model is saturated; Integrated Gradients adds "
               "up to the change from an all-[PAD] input" if method == GRADIENT else
               "the word's share of the change from an all-[PAD] input")
        legend = (f'<span class="attr-tok" style="background: rgba({UP_RGB},.6)">blue</span> pushes the '
                  f'{html.escape(UNITS[task])} up, <span class="attr-tok" style="background: rgba({DOWN_RGB},.6)">'
                  f"orange</span> pushes it down ({how}). One scale for every panel: full colour is ±{scale:.3g}; "
                  "hover a word for its weight.")
    else:
        legend = (f'<span class="attr-tok" style="background: rgba({UP_RGB},.6)">blue</span>: the share of the '
                  f"pooled sentence vector that flows from the word through the attention layers (full colour "
                  f"{scale:.0%}). It shows where the encoder looks, not which way a word pushes the answer.")
    return (f'<div class="attr-box">{title}<div class="attr-grid">{"".join(cells)}</div>'
            f'<div class="attr-legend">{legend}</div></div>')
