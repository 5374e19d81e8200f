"""Models tab: each variant's recipe in plain words, the idea it reproduces, its dev metrics and its
training curve (from the checkpoint's config.json; no model is run)."""
from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis import duration, interval, metric
from minibert.recipes import Recipe
from minibert.reruns import describe, describe_lr_tries
from minibert.tasks import task as get_task

from .palette import themed
from .trust_view import MUTED_MARK, muted_lines, seed_key

DEV_KEYS = (("overall", "overall"), ("sst_acc", "SST acc"), ("quora_acc", "Quora acc*"), ("sts_pearson", "STS Pearson"))
OVERVIEW_WIDTHS = ["11%", "33%", "10%", "10%", "10%", "10%", "16%"]
CURVE_COLORS = {"overall": "#222222", "sst_acc": "#c0392b", "quora_acc": "#4c78a8", "sts_pearson": "#1b7837"}


def recipe_of(variant: str) -> Recipe | None:
    try:
        return Recipe.from_dict(variant.config["recipe"])
    except Exception:
        return None


def dev_metrics(variant: str, analysis_overall: pd.DataFrame | None = None) -> dict:
    """A variant's dev metrics: those of its current analysis tables when there are some (what the
    other tabs and the README show, predicted by the checkpoint as shipped), else the ones stored
    in the checkpoint at training time (which a GPU run computes against its fp16 copy of the
    backbone, so they may differ in the 4th decimal)."""
    if analysis_overall is not None and variant.name in analysis_overall.index:
        row = analysis_overall.loc[variant.name]
        return {"sst_acc": row.get("sst_accuracy"), "quora_acc": row.get("quora_accuracy"),
                "sts_pearson": row.get("sts_pearson"), "overall": row.get("overall"), "_from": "analysis tables"}
    stored = variant.config.get("metrics") or {}
    return dict(stored.get("dev") or stored.get("dev_at_training") or {})


def _fmt(x: object) -> str:
    return metric(x, missing="–")


def _duration(seconds: object) -> str:
    return duration(seconds, missing="")


# Where each dev metric's 95 % interval is kept (analysis.uncertainty's task and metric).
DEV_INTERVALS = {"overall": ("overall", "overall"), "sst_acc": ("sst", "accuracy"), "quora_acc": ("quora", "accuracy"),
                 "sts_pearson": ("sts", "pearson")}


def overview(variants: dict, failures: list, analysis_overall: pd.DataFrame | None = None,
             trust: dict | None = None, intervals: object | None = None) -> pd.DataFrame:
    """One row per variant (and per load failure): the idea, dev metrics (⊘ on a muted head, from
    `trust`: demo.trust_view.trust_of; with their 95 % intervals when `intervals`, an
    analysis.uncertainty.Intervals, has them) and how it was trained."""
    rows = []
    for name, v in variants.items():
        r = recipe_of(v)
        dev = dev_metrics(v, analysis_overall)
        t = v.config.get("training") or {}
        live = v.config.get("live")  # minibert.live: the host's own model, scored in Compare only
        row = {"variant": name, "in one line": (r.summary if r else f"live model {live}: scored in Compare only"
                                                if live else "")}
        muted = {seed_key(t) for t, h in ((trust or {}).get(name) or {}).items() if h.muted}
        for key, label in DEV_KEYS:
            ci = intervals.value(*DEV_INTERVALS[key][:2], name) if intervals is not None and dev.get("_from") else None
            row[label] = ((f"{MUTED_MARK} " if key in muted else "") + _fmt(dev.get(key)) + "\n" + interval(ci)).strip()
        if v.members:
            row["trained"] = "composed at load time of " + ", ".join(m.name for m in v.members)
        else:
            epochs = len(v.config.get("history") or []) or (r.epochs if r else 0)
            of = f" of {r.epochs} (time budget)" if t.get("stopped_early") and r else ""
            bits = [f"{epochs}{of} epoch{'' if epochs == 1 and not of else 's'}" if epochs else "",
                    t.get("hardware") or t.get("device") or "", _duration(t.get("wall_seconds"))]
            row["trained"] = ", ".join(b for b in bits if b)
        rows.append(row)
    for f in failures:
        rows.append({"variant": f"⚠ {f.name}", "in one line": f"failed to load: {f.reason}",
                     **{label: "–" for _, label in DEV_KEYS}, "trained": ""})
    return pd.DataFrame(rows)


def imported_overview(manifest: dict, analysis_overall: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per variant imported from prediction files: where it came from and its dev metrics
    (from its tables; predictions only, so no recipe and no training)."""
    from analysis import imported_sources

    rows = []
    for name, sources in imported_sources(manifest).items():
        files = "; ".join(f"{s['file']} (sha256 {str(s['sha256'])[:12]})" for s in sources)
        hard = [s["task"] for s in sources if not s["probabilities"]]
        row = {"variant": name, "in one line": f"imported predictions only: {files}"
               + (f"; hard labels for {', '.join(hard)}" if hard else "")}
        known = analysis_overall is not None and name in analysis_overall.index
        scores = analysis_overall.loc[name] if known else pd.Series(dtype=float)
        for key, label in DEV_KEYS:
            row[label] = _fmt(scores.get({"sst_acc": "sst_accuracy", "quora_acc": "quora_accuracy"}.get(key, key)))
        row["trained"] = "elsewhere (python -m analysis import)"
        rows.append(row)
    return pd.DataFrame(rows)


def training_curve(variant: str) -> go.Figure | None:
    """Dev metrics per epoch (left axis) and the training loss per task (right axis); None when
    the checkpoint has no history (an ensemble, a test checkpoint)."""
    history = variant.config.get("history") or []
    if not history:
        return None
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for key, label in DEV_KEYS:
        ys = [(h.get("dev") or {}).get(key) for h in history]
        if any(y is not None for y in ys):
            fig.add_scatter(x=epochs, y=ys, mode="lines+markers", name=f"dev {label}",
                            line=dict(color=CURVE_COLORS[key], width=3 if key == "overall" else 2), secondary_y=False)
    tasks = sorted({t for h in history for t in (h.get("train_loss") or {})})
    for task in tasks:
        ys = [(h.get("train_loss") or {}).get(task) for h in history]
        fig.add_scatter(x=epochs, y=ys, mode="lines", name=f"train loss {task}",
                        line=dict(dash="dot", color=CURVE_COLORS.get(f"{task}_acc", "#888") if not get_task(task).regression
                                  else CURVE_COLORS["sts_pearson"]), secondary_y=True)
    best = variant.config.get("training", {}).get("best_epoch")
    if best is not None:
        fig.add_vline(x=best, line_dash="dash", line_color="#999", annotation_text=f"kept: epoch {best}")
    # "epoch" in the title, not under the axis, where the legend below would cover it
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=50, b=40),
                      title=dict(text=f"{variant.name}: training curve by epoch", x=0, font=dict(size=14)),
                      legend=dict(orientation="h", y=-0.12, yanchor="top"))
    fig.update_yaxes(title_text="dev metric", secondary_y=False)
    fig.update_yaxes(title_text="train loss", secondary_y=True, showgrid=False)
    fig.update_xaxes(dtick=1, tick0=1)  # epochs are whole numbers
    return themed(fig)


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=14, color="#666"))
    fig.update_layout(height=200, xaxis_visible=False, yaxis_visible=False, margin=dict(l=10, r=10, t=10, b=10))
    return themed(fig)


def details(variants: dict, name: str, analysis_overall: pd.DataFrame | None = None,
            trust: dict | None = None) -> tuple[str, go.Figure]:
    """(markdown card, training curve) of one variant; with `trust`, what Compare leaves out of its
    verdict and why."""
    if name not in variants:
        return "Pick a variant.", empty_figure("no variant selected")
    v = variants[name]
    r = recipe_of(v)
    dev = dev_metrics(v, analysis_overall)
    t = v.config.get("training") or {}
    e = html.escape
    lines = [f"### {e(name)}"]
    if r:
        lines.append(e(r.describe()))
        lines.append(f"**The idea it reproduces:** {e(r.source)}")
    if dev:
        src = " (from the dev-set prediction tables)" if dev.get("_from") else " (stored in the checkpoint)"
        lines.append("**Dev metrics**" + src + ": " + " · ".join(f"{label} {_fmt(dev.get(key))}" for key, label in DEV_KEYS)
                     + "  \n<small>* Quora is optimistic: the backbone was trained on Quora duplicates.</small>")
    else:
        lines.append("**Dev metrics:** none stored in this checkpoint.")
    lines += [e(line) for line in muted_lines(trust or {}, name)]
    if v.members:
        lines.append("**Members:** " + ", ".join(e(m.name) for m in v.members))
    elif t:
        keep = [("hardware", "hardware"), ("best_epoch", "best epoch (kept)"),
                ("wall_seconds", "wall time of the whole run")]
        bits = [f"{label} {e(_duration(t[k]) if k == 'wall_seconds' else str(t[k]))}"
                for k, label in keep if t.get(k) not in (None, "")]
        if not t.get("hardware") and t.get("device"):
            bits.insert(0, f"device {e(str(t['device']))}")
        lines.append("**Training:** " + " · ".join(bits))
        # Whether a difference between two variants is real: this variant's own spread over seeds,
        # and how much its learning rate moved it.
        if t.get("seed_replicates"):
            lines.append(f"**Seed spread:** {e(describe(name, t['seed_replicates']))}")
        if t.get("lr_tries"):
            title, tries = describe_lr_tries(name, t["lr_tries"]).split(": ", 1)
            lines.append(f"**{e(title)}:** {e(tries)}")
    lines.append(f"<small>checkpoint `{e(str(getattr(v, 'directory', '')))}` · hash `{e(v.checkpoint_hash[:12])}`</small>")
    curve = training_curve(v)
    if curve is None:
        curve = empty_figure("composed at load time: no training curve" if v.members
                             else "no training history stored in this checkpoint")
    return "\n\n".join(lines), curve
