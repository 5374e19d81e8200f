"""Counterfactuals in Compare: what each variant said before an edit and what it says after, and
one-click edits of the current input.

    ref = dev_reference(example)                 # a dev example from Errors: id, gold, stored outputs
    ref = scored_reference(scores)               # the previous input, as Compare scored it
    changes_html(ref, scores)                    # before -> after per variant, flips marked (HTML)
    next_reference(ref, scores)                  # what the next edit is compared with
    perturb("negate", "sst", a, b)               # -> (a, b, what was done) or BadInput

`scores` is `CompareResult.scores()`: {"a", "b", "outputs": {task: {variant: output}}}. A flip is
a change of answer: SST's class (and, said apart, its polarity), Quora's decision at the
threshold, an STS score that moved by more than STS_TOLERANCE. Plain functions, no Gradio.
"""
from __future__ import annotations

import html
import re

import numpy as np

from analysis import STS_TOLERANCE
from minibert.tasks import QUORA_THRESHOLD, SST, TASK_NAMES
from minibert.tasks import task as get_task

from . import inputs as I
from .verdict import polarity

FLIP = "⟲"
PERTURBATIONS = {"negate": "Negate", "swap": "Swap A ↔ B", "typo": "Typo", "drop": "Drop a word"}
AUXILIARIES = ("is", "are", "was", "were", "am", "do", "does", "did", "can", "could", "will", "would", "should",
               "has", "have", "had", "must", "may", "might")
NEGATIONS = re.compile(r"\b(not|never)\b ?|n't\b", re.IGNORECASE)
PRONOUNS = ("i", "you", "we", "they", "he", "she", "it")
WHOLE = {"won't": "will", "can't": "can", "cannot": "can", "shan't": "shall"}
WORD = re.compile(r"[A-Za-z]+")


def dev_reference(example: dict | None) -> dict | None:
    """A dev example sent from Errors (its id, gold label, text and every variant's stored output)
    as the "before" of Compare's next scorings."""
    if not example or not example.get("outputs"):
        return None
    return {"kind": "dev", "id": example.get("id"), "task": example["task"], "gold": example.get("gold"),
            "a": example["sentence1"], "b": example.get("sentence2") or "", "outputs": {example["task"]: example["outputs"]}}


def scored_reference(scores: dict | None) -> dict | None:
    return {"kind": "previous", **scores} if scores else None


def next_reference(reference: dict | None, scores: dict | None) -> dict | None:
    """A dev example stays the reference until another input replaces it (a chip, Clear, another
    example); otherwise each scoring becomes the "before" of the next."""
    if reference and reference.get("kind") == "dev":
        return reference
    return scored_reference(scores) or reference


def _answer(task: str, output: object) -> tuple[object, str]:
    """(the answer that flips, how it reads)."""
    spec = get_task(task)
    if spec.multiclass:
        p = np.asarray(output, dtype=float)
        c = int(np.argmax(p))
        return c, f"{SST.classes[c]} {p[c]:.2f}"
    if spec.binary:
        p = float(output)
        return p >= QUORA_THRESHOLD, f"{'duplicate' if p >= QUORA_THRESHOLD else 'not dup.'} {p:.2f}"
    return float(output), f"{float(output):.2f}"


def flipped(task: str, before: object, after: object) -> str:
    """'' when the answer held; else what changed ('class', 'polarity', 'decision', 'score')."""
    spec = get_task(task)
    (b, _), (a, _) = _answer(task, before), _answer(task, after)
    if spec.multiclass:
        return "" if a == b else ("polarity" if polarity(a) != polarity(b) else "class")
    if spec.binary:
        return "" if a == b else "decision"
    return "score" if abs(a - b) > STS_TOLERANCE else ""


def _is_right(task: str, gold: object, output: object) -> bool | None:
    if gold is None:
        return None
    spec = get_task(task)
    answer, _ = _answer(task, output)
    if spec.regression:
        return abs(answer - float(gold)) <= STS_TOLERANCE
    return int(answer) == int(gold)


def _same_text(reference: dict, scores: dict) -> bool:
    return all((reference.get(k) or "").strip() == (scores.get(k) or "").strip() for k in ("a", "b"))


def _dev_line(reference: dict) -> str:
    spec = get_task(reference["task"])
    gold = reference.get("gold")
    return (f"dev example <code>{html.escape(str(reference.get('id')))}</code> ({html.escape(spec.long_title)}), "
            f"gold <b>{html.escape(spec.label_text(gold)) if gold is not None else '?'}</b>")


def reference_html(reference: dict) -> str:
    """A dev example opened as it is: nothing has changed yet, so no before -> after and no flips,
    only what the next edit will be compared with."""
    texts = "".join(f'<div class="cf-text"><span class="ex-label">{k}</span>{html.escape(reference.get(k.lower()) or "")}'
                    "</div>" for k in ("A", "B") if reference.get(k.lower()))
    return (f'<div class="cf-box" id="cf-reference"><div class="cf-head"><b>Reference</b>: {_dev_line(reference)}. '
            "Edit the text and score it: each variant's new answer is then set against its stored prediction for "
            f'this example, with the changed answers marked.</div>{texts}</div>')


def changes_html(reference: dict | None, scores: dict | None) -> str:
    """Before -> after for every variant and task both sides scored; '' when there is nothing to
    compare (no reference, or the previous input was this very one)."""
    if not reference or not scores:
        return ""
    dev = reference.get("kind") == "dev"
    if not dev and (reference.get("a"), reference.get("b")) == (scores.get("a"), scores.get("b")):
        return ""
    tasks = [t for t in TASK_NAMES if t in (reference.get("outputs") or {}) and t in (scores.get("outputs") or {})]
    if not tasks:
        return ""
    e = html.escape
    if dev and _same_text(reference, scores):
        return reference_html(reference)
    if dev:
        head = f"<b>Before</b>: {_dev_line(reference)}; the predictions stored in the dev tables."
    else:
        head = "<b>Before</b>: your previous input, as Compare scored it."
    texts = "".join(f'<div class="cf-text"><span class="ex-label">{k}</span>{e(reference.get(k.lower()) or "")} '
                    f'<span class="cf-arrow">→</span> {e(scores.get(k.lower()) or "")}</div>'
                    for k in ("A", "B") if reference.get(k.lower()) or scores.get(k.lower()))
    names = [n for n in scores["outputs"][tasks[0]]]
    for t in tasks[1:]:
        names += [n for n in scores["outputs"][t] if n not in names]
    header = "".join(f"<th>{e(get_task(t).title)}</th>" for t in tasks)
    body, flips = [], {t: 0 for t in tasks}
    for n in names:
        cells = []
        for t in tasks:
            before, after = reference["outputs"][t].get(n), scores["outputs"][t].get(n)
            if before is None or after is None:
                cells.append("<td>–</td>")
                continue
            change = flipped(t, before, after)
            flips[t] += bool(change)
            mark = f' <b class="cf-flip">{FLIP} {e(change)}</b>' if change else ""
            right = _is_right(t, reference.get("gold"), after) if dev and t == reference.get("task") else None
            gold_mark = "" if right is None else (" ✓" if right else " ✗")
            cells.append(f'<td class="{"cf-flipped" if change else ""}">{e(_answer(t, before)[1])} → '
                         f"{e(_answer(t, after)[1])}{gold_mark}{mark}</td>")
        body.append(f"<tr><td>{e(n)}</td>{''.join(cells)}</tr>")
    total = "; ".join(f"{get_task(t).title}: {flips[t]} of {len(names)} flipped" for t in tasks)
    legend = (f"{FLIP} marks a changed answer (sentiment class or polarity, the paraphrase decision at "
              f"{QUORA_THRESHOLD:g}, a similarity that moved more than {STS_TOLERANCE:g})"
              + ("; ✓ / ✗: the answer after the edit against the gold label." if dev else "."))
    return (f'<div class="cf-box"><div class="cf-head">{head}</div>{texts}<div class="cf-total">{e(total)}</div>'
            f'<table class="cf-table"><thead><tr><th>variant</th>{header}</tr></thead><tbody>{"".join(body)}'
            f'</tbody></table><div class="attr-legend">{legend}</div></div>')


# --- one-click edits ---------------------------------------------------------------------------

def negate(text: str) -> str:
    """Remove the negations of a sentence, or add one after its first auxiliary verb (else in front)."""
    out = re.sub(r"\b(" + "|".join(WHOLE) + r")\b", lambda m: WHOLE[m.group(0).lower()], text, flags=re.IGNORECASE)
    if out != text or NEGATIONS.search(out):
        return re.sub(r"\s{2,}", " ", NEGATIONS.sub("", out)).strip()
    words = text.split(" ")
    for i, w in enumerate(words):
        if w.lower().strip(",.;:!?") in AUXILIARIES:
            # a question puts the subject after its auxiliary ("how do I start" -> "how do I not start")
            subject = i + 1 < len(words) and words[i + 1].lower() in PRONOUNS
            at = i + 2 if text.rstrip().endswith("?") and subject else i + 1
            return " ".join(words[:at] + ["not"] + words[at:])
    return f"It is not true that {text[:1].lower()}{text[1:]}"


def typo(text: str) -> str:
    """Swap two neighbouring letters in the middle of the longest word (at least 4 letters)."""
    words = list(WORD.finditer(text))
    longest = max(words, key=lambda m: len(m.group(0)), default=None)
    if longest is None or len(longest.group(0)) < 4:
        raise I.BadInput("No word of four letters or more to misspell.")
    w = longest.group(0)
    k = len(w) // 2 - 1
    if w[k] == w[k + 1]:
        k = max(0, k - 1)
    misspelt = w[:k] + w[k + 1] + w[k] + w[k + 2:]
    return text[:longest.start()] + misspelt + text[longest.end():]


def drop_word(text: str) -> str:
    """Drop the longest word (the first of the longest): usually the one that carries the meaning."""
    words = list(WORD.finditer(text))
    if len(words) < 2:
        raise I.BadInput("A sentence of one word has no word to drop.")
    longest = max(words, key=lambda m: len(m.group(0)))
    out = re.sub(r"\s{2,}", " ", text[:longest.start()] + text[longest.end():])
    return re.sub(r"\s+([?.!,;:])", r"\1", out).strip()


def perturb(kind: str, task_choice: str, a: object, b: object) -> tuple[str, str, str]:
    """(new sentence A, new sentence B, what was done). Negation, typo and dropping act on sentence A,
    swapping on the pair. BadInput when the edit does not apply."""
    kind = I.choice(kind, list(PERTURBATIONS), "edit")
    a, b = I.text(a, "Sentence A").strip(), I.text(b, "Sentence B").strip()
    if not a:
        raise I.BadInput("Type a sentence first: there is nothing to edit.")
    if kind == "swap":
        if not b:
            raise I.BadInput("Swapping needs two sentences: type one in **Sentence B** too.")
        return b, a, "swapped sentences A and B"
    edit = {"negate": negate, "typo": typo, "drop": drop_word}[kind]
    return edit(a), b, f"{PERTURBATIONS[kind].lower()} in sentence A"
