"""How far to trust each variant's answer on a task, as Compare and the Models cards show it: the
dev metric (with its 95 % interval and seed spread where recorded) and whether the head is muted.

The muting rule is `analysis.trust.muted_reason`, the one the analysis side uses; this module only
gathers what it reads and words it.

    trust = trust_of(variants, summary)        # {variant: {task: HeadTrust}}
    trust["sst-only"]["sts"].muted             # the reason, or None
    dev_cell(trust["pcgrad"]["sst"])           # "acc 0.485\n95 % 0.455–0.514\n± 0.007 over 3 seeds"
"""
from __future__ import annotations

from dataclasses import dataclass, field

from analysis import muted_reason
from minibert.predictor import members_for
from minibert.tasks import TASK_NAMES
from minibert.tasks import task as get_task

MUTED_MARK = "⊘"
SHORT_METRIC = {"accuracy": "acc", "pearson": "r"}


@dataclass(frozen=True)
class HeadTrust:
    metric: str                                   # "accuracy" or "pearson" (the task's dev metric)
    value: float | None = None                    # None: no dev metric for this checkpoint
    ci: tuple[float, float] | None = None         # 95 % interval, when summary.json has one
    seed_sd: float | None = None                  # sd of the metric over seed reruns, when recorded
    seeds: int = 0
    muted: str | None = None                      # why this head is not believed, or None
    muted_members: dict[str, str] = field(default_factory=dict)  # an ensemble's members muted here


def seed_key(task: str) -> str:
    """The key a checkpoint's dev metrics and seed replicates use for `task` (sst_acc, quora_acc,
    sts_pearson)."""
    metric = get_task(task).metric
    return f"{task}_{'acc' if metric == 'accuracy' else metric}"


def _entry(summary: dict | None, variant: object) -> dict | None:
    """The summary's entry of a loaded variant, when it was built from this very checkpoint."""
    item = ((summary or {}).get("variants") or {}).get(variant.name)
    if not item:
        return None
    built_from = (item.get("checkpoint") or {}).get("hash")
    return item if built_from in (None, variant.checkpoint_hash) else None


def head_trust(summary: dict | None, variant: object, task: str) -> HeadTrust:
    metric = get_task(task).metric
    item = _entry(summary, variant)
    scalars = ((item or {}).get("tasks") or {}).get(task) or {}
    value = scalars.get(metric)
    ci = (scalars.get("ci") or {}).get(metric)
    replicates = ((variant.config or {}).get("training") or {}).get("seed_replicates") or {}
    sd = (replicates.get("sd") or {}).get(seed_key(task))
    return HeadTrust(metric=metric, value=float(value) if value is not None else None,
                     ci=(float(ci[0]), float(ci[1])) if ci and len(ci) == 2 else None,
                     seed_sd=float(sd) if sd is not None else None, seeds=len(replicates.get("seeds") or []),
                     muted=muted_reason(task, scalars) if scalars else None)


def trust_of(variants: dict, summary: dict | None) -> dict[str, dict[str, HeadTrust]]:
    """{variant: {task: HeadTrust}} for every loaded variant. A variant the summary does not cover
    (or covers for another checkpoint) gets no metric and is not muted: nothing judges it."""
    out = {name: {t: head_trust(summary, v, t) for t in TASK_NAMES} for name, v in variants.items()}
    for name, v in variants.items():
        for t in TASK_NAMES:
            members = {m: out[m][t].muted for m in members_for(v, t) if m in out and out[m][t].muted}
            if members:
                h = out[name][t]
                out[name][t] = HeadTrust(h.metric, h.value, h.ci, h.seed_sd, h.seeds, h.muted, members)
    return out


def dev_cell(h: HeadTrust | None) -> str:
    """A head's dev record in one table cell, its interval and seed spread each on a line of their
    own (Compare's table fits a desktop's width only so)."""
    if h is None:
        return "no dev metric"
    text = "no dev metric" if h.value is None else f"{SHORT_METRIC.get(h.metric, h.metric)} {h.value:.3f}"
    extra = []
    if h.ci:
        extra.append(f"95 % {h.ci[0]:.3f}–{h.ci[1]:.3f}")
    if h.seed_sd is not None and h.seeds > 1:
        extra.append(f"± {h.seed_sd:.3f} over {h.seeds} seeds")
    if extra:
        text += "".join(f"\n{e}" for e in extra)
    if h.muted:
        text = f"{MUTED_MARK} muted · {text}"
    if h.muted_members:
        text += f" · member{'s' if len(h.muted_members) > 1 else ''} muted here: {', '.join(h.muted_members)}"
    return text


def muted_lines(trust: dict[str, dict[str, HeadTrust]], name: str) -> list[str]:
    """What a variant's Models card says about its muted heads (and an ensemble's muted members)."""
    lines = []
    for t, h in (trust.get(name) or {}).items():
        title = get_task(t).title
        if h.muted:
            lines.append(f"{MUTED_MARK} **{title} head muted**: {h.muted}. Compare shows its answer but leaves it "
                         "out of the verdict.")
        for member, why in h.muted_members.items():
            lines.append(f"{MUTED_MARK} **{title}**: member {member}'s head is muted ({why}); the ensemble still "
                         "averages it, as it was built.")
    return lines
