"""Slices tab: per-slice metrics of every variant, with deltas against a reference variant.
Plain functions over `analysis.slice_metrics`."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from pandas.io.formats.style import Styler

import analysis as A

from .palette import variant_colors

METRICS = {
    "sst": ["accuracy", "macro_f1", "off_by_one_accuracy"],
    "quora": ["accuracy", "f1", "precision", "recall", "roc_auc"],
    "sts": ["pearson", "spearman", "mse"],
}
LOWER_IS_BETTER = {"mse"}


def slice_doc(name: str) -> str:
    s = A.SLICES.get(name)
    return s.doc if s else ""


def slice_table(a: A.Analysis, task: str, name: str, reference: str, metric: str) -> tuple[Styler, pd.DataFrame]:
    """(Styler, long DataFrame): one row per bucket (with its size), one column per variant holding
    "value (delta vs reference)"; cells shaded green where a variant beats the reference."""
    long = A.slice_metrics(a, task, name)
    wide = long.pivot_table(index="bucket", columns="variant", values=metric, observed=True, sort=False)
    sizes = long.groupby("bucket", observed=True, sort=False)["n"].max()
    wide = wide.reindex([b for b in long["bucket"].cat.categories if b in wide.index])  # analysis's order
    variants = [v for v in a.variants(task) if v in wide.columns]
    if reference not in variants:
        reference = variants[0]
    order = [reference] + [v for v in variants if v != reference]
    wide = wide[order]
    delta = wide.sub(wide[reference], axis=0)
    better = -delta if metric in LOWER_IS_BETTER else delta
    text = pd.DataFrame(index=wide.index, columns=order, dtype=object)
    for v in order:
        for b in wide.index:
            x = wide.loc[b, v]
            if pd.isna(x):
                text.loc[b, v] = "–"
            elif v == reference:
                text.loc[b, v] = f"{x:.3f}"
            else:
                text.loc[b, v] = f"{x:.3f} ({delta.loc[b, v]:+.3f})"
    out = text.reset_index()
    out.insert(1, "n", [int(sizes.get(b, 0)) for b in wide.index])
    out = out.rename(columns={"bucket": "bucket", reference: f"{reference} (reference)"})

    scale = float(np.nanmax(np.abs(better.to_numpy()))) if better.size and np.isfinite(better.to_numpy()).any() else 0.0
    scale = scale or 1.0

    def shade(data: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=data.index, columns=data.columns)
        for i, b in enumerate(wide.index):
            if str(b) == "(all)":
                css.iloc[i, :] = "font-weight: 600"
            for j, v in enumerate(order[1:], start=3):
                d = better.loc[b, v]
                if pd.notna(d) and d != 0:
                    rgb = "27,120,55" if d > 0 else "192,57,43"
                    css.iloc[i, j] += f"; background-color: rgba({rgb},{min(0.75, 0.1 + 0.65 * abs(d) / scale):.2f})"
        return css

    return out.style.apply(shade, axis=None), long


def slice_figure(a: A.Analysis, task: str, name: str, reference: str, metric: str, long: pd.DataFrame | None = None) -> go.Figure:
    """Grouped bars: the metric per bucket, one bar per variant; the reference's bar outlined."""
    long = long if long is not None else A.slice_metrics(a, task, name)
    fig = go.Figure()
    buckets = [str(b) for b in long["bucket"].cat.categories if (long["bucket"] == b).any()]
    colors = variant_colors(a.variants())
    for v in a.variants(task):
        d = long[long["variant"] == v].set_index("bucket")
        values = [d.loc[b, metric] if b in d.index else np.nan for b in buckets]
        sizes = [int(d.loc[b, "n"]) if b in d.index else 0 for b in buckets]
        fig.add_bar(x=buckets, y=values, name=v + (" (reference)" if v == reference else ""),
                    marker_color=colors[v], customdata=sizes, marker_line_width=2.5 if v == reference else 0,
                    marker_line_color="#222",
                    hovertemplate=f"{v}<br>%{{x}}: %{{y:.3f}}<br>n = %{{customdata}}<extra></extra>")
    fig.update_layout(barmode="group", template="plotly_white", height=380, margin=dict(l=10, r=10, t=50, b=40),
                      title=dict(text=f"{metric} per {name} bucket" + (" (lower is better)" if metric in LOWER_IS_BETTER else ""),
                                 x=0, font=dict(size=14)),
                      legend=dict(orientation="h", y=-0.15), yaxis_title=metric)
    return fig


def slice_view(a: A.Analysis, task: str, name: str, reference: str, metric: str) -> tuple[Styler | pd.DataFrame, go.Figure, str]:
    """(Styler, figure, markdown description) for the Slices tab."""
    if a is None or not a.has(task):
        return pd.DataFrame(), go.Figure(), "No predictions for this task."
    if name not in A.slice_names(task):
        name = A.slice_names(task)[0]
    if metric not in METRICS[task]:
        metric = METRICS[task][0]
    styler, long = slice_table(a, task, name, reference, metric)
    doc = (f"**{html.escape(name)}**: {html.escape(slice_doc(name))}. Each cell: {metric} of the variant on that "
           f"bucket, and in brackets its difference from **{html.escape(reference)}** "
           f"(green: better than the reference, red: worse). `n` is the number of dev examples in the bucket.")
    if task == "quora":  # the dataset's caveat, not a property of binary tasks
        doc += " Quora numbers are optimistic: see the note in the Errors tab."
    return styler, slice_figure(a, task, name, reference, metric, long), doc
