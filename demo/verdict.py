"""Compare's verdict on one task: how the single variants voted, read as it is.

    v = verdict("sst", outputs, singles=[...], ensembles=["ensemble"], muted={"sst-only": "why"})
    v.text       markdown: the vote split by class, polarity, majority or "no majority", the ensemble
                 apart, who was left out and why
    v.disagree   variants to mark ⚠ (against a real majority; none when there is no majority)
    v.centre     what the charts draw a line at: the majority answer, or the median score

"Majority" means more than half of the voters. Voters are the single variants whose head for the
task is trusted (`analysis.trust`); an ensemble is named apart, never counted as a voter, and a
muted head is shown but does not vote. Sentiment's neighbouring classes are not a disagreement:
⚠ marks a polarity (negative / neutral / positive) against the majority polarity.
"""
from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from analysis import STS_TOLERANCE
from minibert.tasks import QUORA_THRESHOLD, SST
from minibert.tasks import task as get_task

POLARITIES = ("negative", "neutral", "positive")


def polarity(sst_class: int) -> str:
    return POLARITIES[0] if sst_class < 2 else POLARITIES[1] if sst_class == 2 else POLARITIES[2]


@dataclass
class Verdict:
    text: str
    disagree: list[str] = field(default_factory=list)
    centre: object = None


def _names(names: list[str]) -> str:
    return html.escape(", ".join(names))


def _apart(ensemble: str) -> str:
    return f"{html.escape(ensemble)} (an ensemble, not counted): "


def _split(counts: Counter, order: list) -> str:
    """'4 very negative · 3 negative': every answer given, most votes first (ties in `order`)."""
    return " · ".join(f"{counts[k]} {k}" for k in sorted(counts, key=lambda k: (-counts[k], order.index(k))))


def _majority(counts: Counter, n: int) -> object:
    top, k = counts.most_common(1)[0] if counts else (None, 0)
    return top if k * 2 > n else None


def _said(k: int, n: int, answer: str) -> str:
    return f"majority **{answer}** ({k} of {n})"


def voters_of(outputs: dict, singles: list[str], ensembles: list[str], muted: dict[str, str]) -> tuple[list[str], str]:
    """(who votes, a note when the choice had to fall back). Trusted single variants; without any,
    every single variant that answered; without those, the ensembles."""
    ok = [n for n, o in outputs.items() if not isinstance(o, dict)]
    trusted = [n for n in singles if n in ok and n not in muted]
    if trusted:
        return trusted, ""
    singles_ok = [n for n in singles if n in ok]
    if singles_ok:
        return singles_ok, " No selected single variant beats the trivial baseline on dev here: all of them are counted."
    return [n for n in ensembles if n in ok], ""


def verdict(task: str, outputs: dict, singles: list[str], ensembles: list[str], muted: dict[str, str]) -> Verdict:
    """The verdict on `task` from every variant's output (an {"error": ...} dict for a failed one)."""
    spec = get_task(task)
    ok = {n: o for n, o in outputs.items() if not isinstance(o, dict)}
    voters, fallback = voters_of(outputs, singles, ensembles, muted)
    if not voters:
        return Verdict(f"**{spec.title}**: no variant could score it.")
    n = len(voters)
    head = f"**{spec.title}** ({n} single variant{'s' if n != 1 else ''} voting): "
    apart = [e for e in ensembles if e in ok and e not in voters]
    left_out = [m for m in singles if m in muted and m in ok and m not in voters]  # an ensemble never votes
    if spec.multiclass:
        text, disagree, centre = _sst(ok, voters, apart)
    elif spec.binary:
        text, disagree, centre = _quora(ok, voters, apart)
    else:
        text, disagree, centre = _sts(ok, voters, apart)
    if left_out:
        text += (" Left out of the vote (⊘ no better than a trivial baseline on dev): "
                 + "; ".join(f"{html.escape(m)} ({html.escape(muted[m])})" for m in left_out) + ".")
    return Verdict(head + text + fallback, disagree, centre)


def _sst(ok: dict, voters: list[str], apart: list[str]) -> tuple[str, list[str], object]:
    preds = {m: SST.decide(o) for m, o in ok.items()}
    n = len(voters)
    counts = Counter(SST.classes[preds[m]] for m in voters)
    pol = Counter(polarity(preds[m]) for m in voters)
    win = _majority(counts, n)
    win_pol = _majority(pol, n)
    parts = [_split(counts, list(SST.classes)) + " — " + (_said(counts[win], n, win) if win else "**no majority**")]
    parts.append("Polarity: " + _split(pol, list(POLARITIES)) + " — " +
                 (_said(pol[win_pol], n, win_pol) if win_pol else "**no majority**"))
    for e in apart:
        c = preds[e]
        parts.append(f"{_apart(e)}{SST.classes[c]} ({float(ok[e][c]):.2f})")
    disagree = [m for m in ok if win_pol and polarity(preds[m]) != win_pol and (m in voters or m in apart)]
    centre = SST.classes.index(win) if win else None
    return ". ".join(parts) + ".", disagree, centre


def _quora(ok: dict, voters: list[str], apart: list[str]) -> tuple[str, list[str], object]:
    n = len(voters)
    probs = np.array([float(ok[m]) for m in voters])
    decided = {m: "duplicate" if float(o) >= QUORA_THRESHOLD else "not duplicate" for m, o in ok.items()}
    counts = Counter(decided[m] for m in voters)
    win = _majority(counts, n)
    text = (f"{counts['duplicate']} duplicate (P ≥ {QUORA_THRESHOLD:g}) · {counts['not duplicate']} not duplicate — "
            + (_said(counts[win], n, win) if win else "**no majority**")
            + f". P(duplicate): median {np.median(probs):.2f}, from {probs.min():.2f} to {probs.max():.2f}")
    if n >= 4:
        q1, q3 = np.percentile(probs, [25, 75])
        text += f" (middle half {q1:.2f}–{q3:.2f})"
    for e in apart:
        text += f". {_apart(e)}{decided[e]} ({float(ok[e]):.2f})"
    disagree = [m for m in ok if win and decided[m] != win and (m in voters or m in apart)]
    return text + ".", disagree, (1 if win == "duplicate" else 0 if win else None)


def _sts(ok: dict, voters: list[str], apart: list[str]) -> tuple[str, list[str], object]:
    scores = np.array([float(ok[m]) for m in voters])
    med = float(np.median(scores))
    text = f"median **{med:.2f}** / 5, from {scores.min():.2f} to {scores.max():.2f}"
    if len(scores) >= 4:
        q1, q3 = np.percentile(scores, [25, 75])
        text += f" (middle half {q1:.2f}–{q3:.2f})"
    outliers = [m for m in ok if (m in voters or m in apart) and abs(float(ok[m]) - med) > STS_TOLERANCE] \
        if len(voters) > 1 else []
    text += (f". Outliers (more than {STS_TOLERANCE:g} from the median): ⚠ {_names(outliers)}" if outliers
             else f". No outliers (all within {STS_TOLERANCE:g} of the median)")
    for e in apart:
        text += f". {_apart(e)}{float(ok[e]):.2f}"
    return text + ".", outliers, med
