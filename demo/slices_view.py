"""Slices tab: per-slice metrics of every variant, with deltas against a reference variant.
Plain functions over `analysis.slice_metrics`."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from pandas.io.formats.style import Styler

import analysis as A
from minibert.tasks import task as get_task

from . import glossary as G
from .inputs import escape_md
from .palette import BETTER, WORSE, themed, tint, variant_colors
from .table_widths import shares

METRICS = A.INTERVAL_METRICS  # the metrics a slice shows are the ones with intervals
LOWER_IS_BETTER = {"mse"}
NO_INTERVAL = ("no interval: the metric is undefined on some bootstrap resamples (too few distinct values), "
               "or the bucket changed since the build")
DEFAULT_OTHERS = 4  # variants shown beside the reference unless the user picks others
GOLD_CAVEAT = ("Inside a one-point gold bucket the gold scores hardly vary, so a correlation there is much lower "
               "than over all of dev and says little on its own (restricted range): compare variants within a "
               "bucket, not a bucket with (all).")


def slice_doc(name: str) -> str:
    s = A.SLICES.get(name)
    return s.doc if s else ""


def default_variants(a: A.Analysis, task: str, reference: str) -> list[str]:
    """The reference and the DEFAULT_OTHERS best other variants by dev overall score (by the
    task's own metric for a variant without every task)."""
    names = a.variants(task)
    # summary.json holds the overall scores the build computed from these tables (recomputing
    # them costs about 100 ms of ROC-AUC on Quora per view)
    stored = {v: (x or {}).get("overall") for v, x in ((a.summary or {}).get("variants") or {}).items()}
    overall = pd.Series([stored.get(v) for v in names], index=names, dtype=float)
    if overall.isna().all():
        overall = A.overall(a)["overall"].reindex(names)
    order = sorted(names, key=lambda v: (pd.isna(overall[v]), -overall[v] if pd.notna(overall[v]) else 0))
    others = [v for v in order if v != reference][:DEFAULT_OTHERS]
    return [reference, *others] if reference in names else others


def _bucket_rows(a: A.Analysis, task: str, name: str, bucket: str) -> np.ndarray:
    if bucket == A.ALL:
        return np.arange(len(a.task(task).examples))
    labels = A.slice_labels(a, task, name)
    return np.flatnonzero((labels == bucket).to_numpy())


def missing_reason(a: A.Analysis, task: str, name: str, bucket: str, variant: str, metric: str) -> str:
    """Why a metric of `variant` on a bucket has no value (the cell shows "–")."""
    td = a.task(task)
    rows = _bucket_rows(a, task, name, bucket)
    if not len(rows):
        return "no examples in this bucket"
    gold = td.examples["gold"].to_numpy()[rows]
    if metric == "roc_auc":
        return "undefined: only one gold class in this bucket"
    if metric in ("pearson", "spearman"):
        if len(rows) < 2:
            return "undefined: fewer than 2 examples"
        if np.ptp(gold) == 0:
            return "undefined: every gold score in this bucket is the same"
        pred = td.pred[rows, td.variant_index(variant)]
        if np.nanmax(pred) == np.nanmin(pred):
            return f"undefined: {variant} gives every example of this bucket the same score"
    return "undefined on this bucket"


def _cell_text(value: float, own: tuple | None, delta: float | None = None, paired: tuple | None = None) -> str:
    text = f"{A.metric(value)} {A.interval(own)}".strip()
    if delta is not None:
        text += f"\nΔ {A.signed(delta)} {A.interval(paired, difference=True)}".rstrip()
    return text


def widths(table: Styler | pd.DataFrame) -> list[str]:
    """The slice table's column widths (percent of its box): the bucket and its size narrow, the
    variants sharing the rest."""
    columns = list((table.data if isinstance(table, Styler) else table).columns)
    return shares(columns, {"bucket": 14, "n": 8}, default=16)  # n: "1,101" on one line on a phone too


def slice_table(a: A.Analysis, task: str, name: str, reference: str, metric: str,
                variants: list[str] | None = None) -> tuple[Styler, pd.DataFrame, list[str]]:
    """(Styler, long DataFrame, notes): one row per bucket (with its size, ⚠ under SMALL_N), one
    column per variant holding the value with its 95 % interval and, beside the reference, the
    difference with its paired 95 % interval; a difference is shaded only when its interval
    excludes 0 (green: better than the reference, red: worse), its strength scaled to the largest
    such difference among the variants shown. Notes say why a cell is "–"."""
    variants = [v for v in (variants or a.variants(task)) if v in a.variants(task)]
    if reference not in a.variants(task):
        reference = variants[0]
    order = [reference] + [v for v in variants if v != reference]
    long = A.slice_metrics(a, task, name, variants=order)
    buckets = [b for b in long["bucket"].cat.categories if (long["bucket"] == b).any()]
    wide = long.pivot_table(index="bucket", columns="variant", values=metric, observed=True, sort=False,
                            dropna=False).reindex(index=buckets, columns=order)
    sizes = long.groupby("bucket", observed=True, sort=False)["n"].max()
    sign = -1 if metric in LOWER_IS_BETTER else 1
    look = a.intervals
    text = pd.DataFrame(index=wide.index, columns=order, dtype=object)
    better = pd.DataFrame(np.nan, index=wide.index, columns=order)
    missing: dict[tuple[str, str], list[str]] = {}
    for b in buckets:
        for v in order:
            x = wide.loc[b, v]
            if pd.isna(x):
                reason = missing_reason(a, task, name, str(b), v, metric)
                text.loc[b, v] = "– (see below)"
                missing.setdefault((str(b), reason), []).append(v)
                continue
            own = look.value(task, metric, v, name, str(b), int(sizes.get(b, 0))) if look else None
            if look and own is None:
                missing.setdefault((str(b), NO_INTERVAL), []).append(v)
            if v == reference:
                text.loc[b, v] = _cell_text(x, own)
                continue
            d = x - wide.loc[b, reference]
            paired = look.delta(task, metric, v, reference, name, str(b), int(sizes.get(b, 0))) if look else None
            text.loc[b, v] = _cell_text(x, own, d, paired) if pd.notna(d) else _cell_text(x, own)
            if A.excludes_zero(paired):
                better.loc[b, v] = sign * d
    out = text.reset_index()
    out.insert(1, "n", [f"{int(sizes.get(b, 0)):,}" + (" ⚠" if sizes.get(b, 0) < A.SMALL_N else "") for b in buckets])
    out = out.rename(columns={reference: f"{reference} (reference)"})
    strength = np.abs(better.to_numpy(dtype=float))
    scale = float(np.nanmax(strength)) if np.isfinite(strength).any() else 1.0

    def shade(data: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=data.index, columns=data.columns)
        for i, b in enumerate(buckets):
            if str(b) == A.ALL:
                css.iloc[i, :] = "font-weight: 600"
            for j, v in enumerate(order[1:], start=3):
                d = better.loc[b, v]
                if pd.notna(d) and d != 0:
                    css.iloc[i, j] += "; " + tint(BETTER if d > 0 else WORSE, 0.15 + 0.45 * abs(d) / (scale or 1))
        return css

    notes = [f"{b}, {'every variant shown' if len(vs) == len(order) else ', '.join(vs)}: {reason}"
             for (b, reason), vs in missing.items()]
    return out.style.apply(shade, axis=None), long, notes


def slice_figure(a: A.Analysis, task: str, name: str, reference: str, metric: str, long: pd.DataFrame | None = None,
                 variants: list[str] | None = None) -> go.Figure:
    """Grouped bars: the metric per bucket, one bar per variant shown, with its 95 % interval;
    the reference's bar outlined."""
    long = long if long is not None else A.slice_metrics(a, task, name, variants=variants)
    buckets = [str(b) for b in long["bucket"].cat.categories if (long["bucket"] == b).any()]
    colors = variant_colors(a.variants())
    # the table's order: the reference, then the variants as chosen (default_variants: best first)
    present = set(long["variant"].astype(str))
    shown = [v for v in dict.fromkeys([reference, *(variants or a.variants(task))]) if v in present]
    bars = []
    for v in shown:
        d = long[long["variant"] == v].set_index("bucket")
        values = [float(d.loc[b, metric]) if b in d.index else np.nan for b in buckets]
        sizes = [int(d.loc[b, "n"]) if b in d.index else 0 for b in buckets]
        bounds = [(a.intervals.value(task, metric, v, name, b, n) if a.intervals else None) or (np.nan, np.nan)
                  for b, n in zip(buckets, sizes)]
        # plain dicts, unvalidated: plotly's checks of every property cost ~100 ms a chart
        bars.append({"type": "bar", "x": buckets, "y": values, "name": v + (" (reference)" if v == reference else ""),
                     "marker": {"color": colors[v], "line": {"width": 2.5 if v == reference else 0, "color": "#888"}},
                     "customdata": [[n, lo, hi] for n, (lo, hi) in zip(sizes, bounds)],
                     "error_y": {"type": "data", "symmetric": False, "thickness": 1.2, "width": 3,
                                 "array": [hi - y for y, (_, hi) in zip(values, bounds)],
                                 "arrayminus": [y - lo for y, (lo, _) in zip(values, bounds)]},
                     "hovertemplate": f"{v}<br>%{{x}}: %{{y:.3f}} [%{{customdata[1]:.3f}}, %{{customdata[2]:.3f}}]"
                                      "<br>n = %{customdata[0]}<extra></extra>"})
    # plotly reads tags in a title: a saved slice's name is a user's text
    title = (f"{G.label(metric)} per {html.escape(G.label(name))} bucket, 95 % intervals"
             + (" (lower is better)" if metric in LOWER_IS_BETTER else ""))
    # automargin: the left margin grows to the tick labels and the axis title, never over them
    layout = {"barmode": "group", "height": 400, "margin": {"l": 10, "r": 10, "t": 50, "b": 40},
              "title": {"text": title, "x": 0, "font": {"size": 14}}, "legend": {"orientation": "h", "y": -0.2},
              "yaxis": {"title": {"text": G.label(metric), "standoff": 8}, "automargin": True, "tickformat": ".2f"},
              "xaxis": {"automargin": True}}
    return themed(go.Figure({"data": bars, "layout": layout}, _validate=False))


def slice_view(a: A.Analysis, task: str, name: str, reference: str, metric: str,
               variants: list[str] | None = None, about: str | None = None) -> tuple[Styler | pd.DataFrame, go.Figure, str]:
    """(Styler, figure, markdown description) for the Slices tab; `variants` default to
    `default_variants`. `about` (Markdown, escaped by the caller) describes a slice the registry
    does not hold (a saved slice, added to `a` by `analysis.with_slice`)."""
    if a is None or not a.has(task):
        return pd.DataFrame(), go.Figure(), "No predictions for this task."
    if name not in A.slice_names(task) and name not in a.task(task).slices:
        name = A.slice_names(task)[0]
    if metric not in METRICS[task]:
        metric = METRICS[task][0]
    variants = variants or default_variants(a, task, reference)
    styler, long, notes = slice_table(a, task, name, reference, metric, variants)
    e = html.escape
    about = about if about is not None else e(slice_doc(name))
    doc = (f"**{escape_md(G.label(name))}**: {about}. Each cell: {G.label(metric)} of the variant on that bucket "
           f"with its 95 % interval, and below it Δ, the difference from **{e(reference)}** with its paired 95 % "
           "interval "
           "(shaded only when that interval excludes 0: green better than the reference, red worse). "
           f"`n` is the number of dev examples in the bucket; ⚠ marks n < {A.SMALL_N}, where intervals are wide. "
           "Intervals are per cell and not adjusted for multiple comparisons: among many cells, some will "
           "exclude 0 by chance. The default reference is the best variant on this same dev set, so differences "
           "from it lean in its favour.")
    if a.intervals is None:
        doc += " *No intervals: the interval table is missing or stale; run `python -m analysis build`.*"
    if get_task(task).regression and name == "gold" and metric in ("pearson", "spearman"):
        doc += f"\n\n⚠ {GOLD_CAVEAT}"
    if notes:
        doc += "\n\n**Why a cell is “–” or has no interval:** " + "; ".join(e(n) for n in notes) + "."
    if task == "quora":  # the dataset's caveat, not a property of binary tasks
        doc += "\n\nQuora numbers are optimistic: see the note in the Errors tab."
    doc += "\n\n" + G.explain(metric, "wilson" if metric in A.PROPORTION_METRICS else "bootstrap", "paired")
    return styler, slice_figure(a, task, name, reference, metric, long, variants), doc
