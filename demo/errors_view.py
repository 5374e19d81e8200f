"""Errors tab: per-variant metrics, confusion grids, diagnostic plots and the error table,
all over `analysis` (precomputed dev-set predictions; nothing here runs a model).

Plain functions, no Gradio. `Filters` holds everything the error table can be filtered by;
`error_rows(a, filters)` applies them through `analysis.errors`.
"""
from __future__ import annotations

import dataclasses
import html
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from pandas.io.formats.style import Styler

import analysis as A
from analysis import QUORA_NOTE, STS_TOLERANCE, excludes_zero, interval, metric, signed
from minibert.settings import settings
from minibert.tasks import TASK_NAMES, task_titled
from minibert.tasks import task as get_task

from . import glossary as G
from . import inputs as I
from .palette import BETTER, WORSE, themed, tint, variant_colors
from .saved_slices_view import decode, is_saved
from .table_widths import shares

ALL_VARIANTS = "(all variants)"
NO_OTHER = "(none)"
NO_SLICE = "(none)"
NO_FEATURE = "(none)"
SHOW_ROWS = 300
SHORT_SST = ("0 v.neg", "1 neg", "2 neu", "3 pos", "4 v.pos")

# the error kind a person picks -> its key in analysis.ERROR_KINDS
ERROR_KINDS = {
    "sst": {
        "wrong": "wrong",
        "too positive (pred > gold)": "over",
        "too negative (pred < gold)": "under",
        "off by 2+ classes": "off_by_2",
        "all examples": "all",
    },
    "quora": {
        "wrong": "wrong",
        "false positives": "fp",
        "false negatives": "fn",
        "all examples": "all",
    },
    "sts": {
        f"|error| > {STS_TOLERANCE:g}": "wrong",
        "|error| > 2": "error_gt_2",
        "too high (pred > gold)": "over",
        "too low (pred < gold)": "under",
        "all examples": "all",
    },
}
RELATIONS = {
    "disagree with it": "disagree",
    "are right where it is wrong": "a_wrong_b_right",
    "are wrong where it is right": "a_right_b_wrong",
    "are wrong too": "both_wrong",
    "agree with it": "agree",
}


@dataclass(frozen=True)
class Filters:
    task: str = "sst"
    variant: str = ALL_VARIANTS
    kind: str = "wrong"
    search: str = ""
    min_words: float | None = None
    max_words: float | None = None
    other: str = NO_OTHER
    relation: str = "disagree with it"
    slice: str = NO_SLICE
    cell: tuple | None = None      # (gold, pred) of a confusion cell
    word: str = ""                 # the text rules of analysis.ErrorQuery
    regex: str = ""
    feature: str = NO_FEATURE      # "name: value"
    within: A.ErrorQuery | None = None   # a saved slice picked as the slice

    def query(self) -> tuple[A.ErrorQuery, list[str]]:
        """(the analysis query the picked values stand for, notes for the user). A comparison the
        pickers cannot make (no one variant, or a variant with itself) is left off with a note."""
        notes = []
        variant = None if self.variant in (None, "", ALL_VARIANTS) else self.variant
        other = None
        if self.other and self.other != NO_OTHER:
            if variant is None:
                notes.append("Pick one variant to compare it with another: the comparison is off.")
            elif self.other == variant:
                notes.append("A variant compared with itself: the comparison is off.")
            else:
                other = self.other
        words = {key: int(value) for key in ("min_words", "max_words")
                 if (value := getattr(self, key)) is not None and not (isinstance(value, float) and math.isnan(value))
                 and value > 0}
        sliced = None
        if self.slice and self.slice != NO_SLICE and " = " in self.slice:
            sliced = tuple(self.slice.split(" = ", 1))
        feature = None
        if self.feature and self.feature != NO_FEATURE and ": " in self.feature:
            feature = tuple(self.feature.split(": ", 1))
        q = A.ErrorQuery(task=self.task, variant=variant, kind=ERROR_KINDS[self.task].get(self.kind, "wrong"),
                         cell=None if self.cell is None else tuple(int(x) for x in self.cell), other=other,
                         relation=RELATIONS.get(self.relation, "disagree"), slice=sliced, search=self.search or "",
                         word=self.word, regex=self.regex, feature=feature, within=self.within, **words)
        off = q.decided_by()
        if off:  # the picker is reset and disabled (kind_picker): the query says what is applied
            q = dataclasses.replace(q, kind="wrong")
            notes.append(f"The error kind is off: {off} decides which rows show. Clear it to pick a kind again.")
        return q, notes + q.notes()

    def kind_off(self) -> bool:
        """Whether a confusion cell or a comparison decides the rows, so that no error kind applies."""
        return self.query()[0].decided_by() is not None


GRID_SIZE = {t: A.grid_size(t) for t in TASK_NAMES}
MAX_SEARCH = 1000                               # characters of a "text contains" search


def parse_cell(task: str, cell: object) -> tuple[int, int] | None:
    """A confusion cell typed or sent as "gold,pred" (or a pair of numbers); None for none."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    n = GRID_SIZE[task]
    parts = cell.split(",") if isinstance(cell, str) else cell
    try:
        g, p = (int(str(x).strip()) for x in parts)
    except (TypeError, ValueError):
        raise I.BadInput(f"A cell is two whole numbers “gold,pred”, not {I.escape_md(repr(cell)[:40])}.") from None
    if not (0 <= g < n and 0 <= p < n):
        raise I.BadInput(f"Cell “{g},{p}” is outside the {get_task(task).long_title} grid: gold and predicted go "
                         f"from 0 to {n - 1}.")
    return g, p


def parse_task(a: A.Analysis, task_name: object) -> str:
    """The task key of a task title the app shows, for tasks that have predictions."""
    return task_titled(I.choice(task_name, [get_task(t).long_title for t in tasks_of(a)], "task")).name


def parse_filters(a: A.Analysis, task_name: object, variant: object, kind: object, search: object, min_words: object,
                  max_words: object, other: object, relation: object, slice_name: object, cell: object,
                  word: object = "", regex: object = "", feature: object = None) -> Filters:
    """Every value of the Errors tab's filters checked against what the tables hold; BadInput
    names the first that is not allowed. Empty values mean "no filter". The slice may be a saved
    slice (`saved_slices_view`: the examples its query lists); the regular expression is checked
    when the query is made (`Filters.query`, ValueError)."""
    task = parse_task(a, task_name)
    names = variants_of(a, task)
    search = I.text(search, "Text contains").strip()
    if len(search) > MAX_SEARCH:
        raise I.BadInput(f"Text contains is at most {MAX_SEARCH:,} characters (got {len(search):,}).")
    word, regex = I.text(word, "Whole word").strip(), I.text(regex, "Regular expression").strip()
    for value, what, cap in ((word, "Whole word", A.MAX_WORD), (regex, "Regular expression", A.MAX_PATTERN)):
        if len(value) > cap:
            raise I.BadInput(f"{what} is at most {cap:,} characters (got {len(value):,}).")
    if regex:
        try:
            A.check_regex(regex)
        except ValueError as e:
            raise I.BadInput(f"Regular expression: {e}.") from None
    low = I.whole_number(min_words, "Min words")
    high = I.whole_number(max_words, "Max words")
    within, slice_value = None, slice_name
    if is_saved(slice_name):
        within, slice_value = decode(slice_name, task).query, NO_SLICE
    return Filters(task=task, variant=pick_variant(a, task, variant),
                   kind=I.choice(kind, list(ERROR_KINDS[task]), "error kind", default=next(iter(ERROR_KINDS[task]))),
                   search=search, min_words=low, max_words=high,
                   other=I.choice(other, [NO_OTHER] + names, "other variant", default=NO_OTHER),
                   relation=I.choice(relation, list(RELATIONS), "relation", default=next(iter(RELATIONS))),
                   slice=I.choice(slice_value, slice_choices(a, task), "slice", default=NO_SLICE),
                   cell=parse_cell(task, cell), word=word, regex=regex,
                   feature=NO_FEATURE if feature in (None, "", NO_FEATURE)  # the features are computed only when named
                   else I.choice(feature, feature_choices(a, task), "feature"), within=within)


def pick_variant(a: A.Analysis, task: str, variant: object) -> str:
    """The variant picker's value checked against `task`'s variants (an upload of this session
    included); a name that is none of them, such as another tab's upload, is said so."""
    from .uploads import missing_variant_note

    note = missing_variant_note(a, task, variant)
    if note:
        raise I.BadInput(note)
    return I.choice(variant, [ALL_VARIANTS] + variants_of(a, task), "variant", default=ALL_VARIANTS)


def tasks_of(a: A.Analysis) -> list[str]:
    return [t for t in TASK_NAMES if a is not None and a.has(t)]


def variants_of(a: A.Analysis, task: str) -> list[str]:
    return a.variants(task) if a is not None and a.has(task) else []


def best_variant(a: A.Analysis, task: str) -> str:
    """The variant with the best score on `task` (the default of the variant picker)."""
    names = variants_of(a, task)
    if not names:
        return ALL_VARIANTS
    table = A.metrics_table(a, task)
    col = get_task(task).metric
    return str(table[col].astype(float).idxmax())


def slice_choices(a: A.Analysis, task: str) -> list[str]:
    if a is None or not a.has(task):
        return [NO_SLICE]
    out = [NO_SLICE]
    for name in A.slice_names(task):
        labels = A.slice_labels(a, task, name)
        out += [f"{name} = {b}" for b in labels.cat.categories]
    return out


def feature_choices(a: A.Analysis, task: str) -> list[str]:
    """The features a text rule may name ("contrast: yes", ...), after "(none)"; computed from
    the examples at first use per task (seconds for Quora), then kept."""
    if a is None or not a.has(task):
        return [NO_FEATURE]
    return [NO_FEATURE] + A.feature_names(a.task(task), a.tables_dir, a.data_dir)


def slice_dropdown(a: A.Analysis, task: str) -> list[tuple[str, str]]:
    """`slice_choices` as a dropdown shows them ("wrong for every variant"), sending the value."""
    return labelled_slices(slice_choices(a, task))


def labelled_slices(values: list) -> list[tuple[str, str]]:
    """Slice choices ("name = bucket", or a saved slice's (label, value)) as (label, value) pairs."""
    def shown(value: str) -> str:
        name, sep, bucket = value.partition(" = ")
        if not sep:
            return value
        # a bucket that says its slice already ("no negation") needs no prefix
        return bucket if G.label(name).lower() in bucket.lower() else f"{G.label(name)}: {bucket}"
    return G.choices(values, shown)


# --- metrics ----------------------------------------------------------------------------------

# The metrics table's columns: (task, metric) of analysis.uncertainty, None where no interval is computed.
OVERVIEW_COLUMNS = {
    "overall (CS224N)": ("overall", "overall"), "SST acc": ("sst", "accuracy"), "SST macro-F1": ("sst", "macro_f1"),
    "SST ECE": None, "Quora acc*": ("quora", "accuracy"), "Quora F1*": ("quora", "f1"),
    "Quora AUC*": ("quora", "roc_auc"), "STS Pearson": ("sts", "pearson"), "STS Spearman": ("sts", "spearman"),
    "STS MSE": ("sts", "mse"),
}
LOWER_IS_BETTER = {"SST ECE", "STS MSE"}


def metrics_numbers(a: A.Analysis) -> pd.DataFrame:
    """One row per variant (index): the CS224N overall score and the main metrics of each task,
    sorted by overall."""
    out = A.overall(a).rename(columns={"overall": "overall (CS224N)", "sst_accuracy": "SST acc",
                                       "quora_accuracy": "Quora acc*", "sts_pearson": "STS Pearson"})
    extra = []
    if a.has("sst"):
        t = A.metrics_table(a, "sst")
        extra.append(t[["macro_f1", "ece"]].rename(columns={"macro_f1": "SST macro-F1", "ece": "SST ECE"}))
    if a.has("quora"):
        t = A.metrics_table(a, "quora")
        extra.append(t[["f1", "roc_auc"]].rename(columns={"f1": "Quora F1*", "roc_auc": "Quora AUC*"}))
    if a.has("sts"):
        t = A.metrics_table(a, "sts")
        extra.append(t[["spearman", "mse"]].rename(columns={"spearman": "STS Spearman", "mse": "STS MSE"}))
    for e in extra:
        out = out.join(e, how="left")
    out = out[[c for c in OVERVIEW_COLUMNS if c in out.columns]]
    return out.sort_values("overall (CS224N)", ascending=False)


def metrics_overview(a: A.Analysis, reference: str | None = None) -> Styler | pd.DataFrame:
    """The metrics table: one row per variant, each metric with its 95 % interval, and the
    difference in overall score from `reference` (default: the best on dev) with its paired 95 %
    interval. A cell is tinted only when its paired interval against the reference excludes 0
    (green better, red worse). Quora columns carry a * (see QUORA_NOTE)."""
    if a is None or not a.tasks:
        return pd.DataFrame()
    numbers = metrics_numbers(a)
    reference = reference if reference in numbers.index else str(numbers.index[0])
    look = a.intervals
    text = pd.DataFrame(index=numbers.index, columns=numbers.columns, dtype=object)
    better = pd.DataFrame(np.nan, index=numbers.index, columns=numbers.columns)
    delta_column = f"Δ overall vs {reference}"
    deltas = []
    for v in numbers.index:
        for column in numbers.columns:
            key = OVERVIEW_COLUMNS[column]
            own = look.value(key[0], key[1], v) if look and key else None
            text.loc[v, column] = f"{metric(numbers.loc[v, column], missing='–')}\n{interval(own)}".strip()
            paired = look.delta(key[0], key[1], v, reference) if look and key and v != reference else None
            if excludes_zero(paired):
                better.loc[v, column] = 1 if (paired[0] > 0) != (column in LOWER_IS_BETTER) else -1
        if v == reference:
            deltas.append("(reference)")
            continue
        d = numbers.loc[v, "overall (CS224N)"] - numbers.loc[reference, "overall (CS224N)"]
        paired = look.delta("overall", "overall", v, reference) if look else None
        deltas.append(f"{signed(d, missing='–')}\n{interval(paired, difference=True)}".strip())
    text.insert(1, delta_column, deltas)
    out = text.reset_index()

    def shade(data: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=data.index, columns=data.columns)
        for i, v in enumerate(numbers.index):
            for column in numbers.columns:
                b = better.loc[v, column]
                if pd.notna(b):
                    css.iloc[i, data.columns.get_loc(column)] = tint(BETTER if b > 0 else WORSE, 0.3)
                    if column == "overall (CS224N)":
                        css.iloc[i, data.columns.get_loc(delta_column)] = tint(BETTER if b > 0 else WORSE, 0.3)
        return css

    return out.style.apply(shade, axis=None)


def metrics_widths(a: A.Analysis | None) -> list[str]:
    """The metrics table's column widths (percent of its box): every column visible on a desktop."""
    if a is None or not a.tasks:
        return []
    columns = ["variant", "overall (CS224N)", "Δ"] + [c for c in metrics_numbers(a).columns if c != "overall (CS224N)"]
    return shares(columns, {"variant": 10, "Δ": 11}, default=8.5)


METRICS_NOTE = ("Dev-set metrics from the precomputed prediction tables, each with its 95 % interval (Wilson for "
                "accuracies, percentile bootstrap over the dev examples otherwise; ECE has none). A cell is tinted "
                "only when the paired 95 % interval of its difference from the reference (the best variant on dev) "
                "excludes 0: green better, red worse. Intervals are per cell, not adjusted for multiple comparisons, "
                "and the reference was picked as the best on these same dev sets, so its lead is optimistic. "
                "Overall (CS224N) = (SST accuracy + Quora accuracy + (STS Pearson + 1) / 2) / 3. Sort or filter "
                f"with the ⋮ menu of a column header. \\* {QUORA_NOTE}")


# --- confusion grid ---------------------------------------------------------------------------

def confusion_counts(a: A.Analysis, task: str, variant: str) -> pd.DataFrame:
    """Gold rows x predicted columns; summed over variants for ALL_VARIANTS."""
    if variant in (None, "", ALL_VARIANTS):
        frames = [A.confusion(a, task, v) for v in variants_of(a, task)]
        return sum(frames[1:], frames[0])
    return A.confusion(a, task, variant)


def _axis_labels(task: str, n: int) -> list[str]:
    if get_task(task).multiclass:
        return list(SHORT_SST)
    if get_task(task).binary:
        return ["0 not dup.", "1 duplicate"]
    return [str(i) for i in range(n)]


def confusion_grid(a: A.Analysis, task: str, variant: str) -> Styler:
    """A pandas Styler of the confusion matrix: gold rows, predicted columns, cells shaded by their
    share of the gold row (green diagonal, red errors). The first column holds the gold labels, so
    a clicked cell (row r, column c >= 1) is the analysis cell (r, c - 1)."""
    cm = confusion_counts(a, task, variant)
    n = cm.shape[0]
    labels = _axis_labels(task, n)
    frame = pd.DataFrame(cm.to_numpy(), columns=list(labels))
    frame.insert(0, "gold ↓ pred →", labels)
    share = cm.to_numpy() / np.maximum(cm.to_numpy().sum(axis=1, keepdims=True), 1)

    def shade(data: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=data.index, columns=data.columns)
        for i in range(n):
            # theme colours, so the gold column reads in dark mode too
            css.iloc[i, 0] = "font-weight: 600; background-color: var(--background-fill-secondary); color: var(--body-text-color)"
            for j in range(n):
                s = share[i, j]
                css.iloc[i, j + 1] = tint(BETTER if i == j else WORSE, 0.08 + s) if s > 0 else ""
        return css

    return frame.style.apply(shade, axis=None)


def confusion_widths(task: str) -> list[str]:
    n = {"sst": 5, "quora": 2}.get(task, 6)
    return ["24%"] + [f"{76 / n:.1f}%"] * n


def cell_from_click(index: object) -> tuple[int, int] | None:
    """The (gold, pred) analysis cell of a click on the confusion grid; None on the label column."""
    if index is None or len(index) != 2:
        return None
    row, col = int(index[0]), int(index[1])
    if col < 1:
        return None
    return (row, col - 1)


def describe_cell(task: str, cell: object) -> str:
    if cell is None:
        return ""
    g, p = cell
    if get_task(task).regression:
        return f"gold ≈ {g}, predicted ≈ {p}"
    return f"gold {get_task(task).label_text(g)} → predicted {get_task(task).label_text(p)}"


# --- diagnostic plots -------------------------------------------------------------------------

RELIABILITY_SHOWN = 4  # more curves than this on one chart are a tangle; the rest wait in the legend
# A dozen variants' legend beside a chart leaves a phone's chart a sliver under it: below, it wraps.
BELOW = dict(orientation="h", yanchor="top", y=-0.25, x=0, font=dict(size=11))
# Room for the y axis's tick labels ("0.2", "5") and title, given rather than measured: with axis
# automargin (plotly_white's) Plotly measured the labels and then drew the chart a second time
# (its cost in docs/BENCHMARKS.md, bench_tabs).
LEFT_MARGIN = 56
AXES = dict(automargin=False)


def reliability_figure(a: A.Analysis, task: str, focus: str | None = None) -> go.Figure:
    """Accuracy per confidence bin (n > 0) for each variant, with the diagonal of perfect
    calibration; the legend carries each variant's ECE. Drawn: `focus` (the picked variant),
    or with none picked the RELIABILITY_SHOWN best on the task; the others are one legend click
    away."""
    lo = 1 / len(get_task(task).classes)  # chance: the lowest confidence a top class can have
    fig = go.Figure()
    # the diagonal starts at the axis's own start: Plotly draws a line past the plotting area otherwise
    fig.add_scatter(x=[lo - 0.02, 1], y=[lo - 0.02, 1], mode="lines", line=dict(dash="dash", color="#999"),
                    name="perfect", hoverinfo="skip")
    hard = a.task(task).hard_labels  # imported hard labels: no confidence to draw
    names = [v for v in variants_of(a, task) if v not in hard]
    colors = variant_colors(a.variants())
    if focus in names:
        shown = {focus}
    else:
        col = get_task(task).metric
        table = A.metrics_table(a, task).loc[names]
        shown = set(table[col].astype(float).sort_values(ascending=False).index[:RELIABILITY_SHOWN])
    for v in names:
        ece, bins = A.calibration(a, task, v)
        b = bins[bins["n"] > 0]
        fig.add_scatter(x=b["confidence"], y=b["accuracy"], mode="lines+markers", name=f"{v} (ECE {ece:.3f})",
                        visible=True if v in shown else "legendonly", line_color=colors[v], customdata=b["n"],
                        hovertemplate=f"{v}<br>confidence %{{x:.2f}}<br>accuracy %{{y:.2f}}"
                                      "<br>n = %{customdata}<extra></extra>")
    fig.update_layout(title=dict(text="Reliability: right as often as it is sure?",
                                 x=0, font=dict(size=14)),
                      height=540, margin=dict(l=LEFT_MARGIN, r=10, t=50, b=40),
                      xaxis_title="confidence in the predicted class", yaxis_title="accuracy",
                      legend=BELOW)
    fig.update_xaxes(range=[lo - 0.02, 1.01], **AXES)
    fig.update_yaxes(range=[0, 1.01], **AXES)
    return themed(fig)


def sts_scatter(a: A.Analysis, variant: str) -> go.Figure:
    """Predicted vs gold similarity, the diagonal and the ±tolerance band; errors in orange."""
    names = variants_of(a, "sts") if variant in (None, "", ALL_VARIANTS) else [variant]
    fig = go.Figure()
    fig.add_scatter(x=[0, 5, 5, 0], y=[STS_TOLERANCE, 5 + STS_TOLERANCE, 5 - STS_TOLERANCE, -STS_TOLERANCE],
                    fill="toself", fillcolor="rgba(76,120,168,0.08)", line=dict(width=0), hoverinfo="skip",
                    name=f"|error| ≤ {STS_TOLERANCE:g}")
    fig.add_scatter(x=[0, 5], y=[0, 5], mode="lines", line=dict(dash="dash", color="#999"), name="pred = gold",
                    hoverinfo="skip")
    colors = variant_colors(a.variants())
    for v in names:
        r = A.residuals(a, v)
        if len(names) == 1:
            bad = r["residual"].abs() > STS_TOLERANCE
            for mask, name, color in ((~bad, "within tolerance", "#4c78a8"), (bad, "errors", "#f58518")):
                fig.add_scattergl(x=r["gold"][mask], y=r["pred"][mask], mode="markers", name=name,
                                  marker=dict(size=5, color=color, opacity=0.6),
                                  hovertemplate="gold %{x:.2f}<br>pred %{y:.2f}<extra></extra>")
        else:
            fig.add_scattergl(x=r["gold"], y=r["pred"], mode="markers", name=v,
                              marker=dict(size=4, opacity=0.45, color=colors[v]),
                              hovertemplate=f"{v}<br>gold %{{x:.2f}}<br>pred %{{y:.2f}}<extra></extra>")
    pearson = A.metrics_table(a, "sts")["pearson"]
    title = "Similarity: predicted vs gold" + (f" ({names[0]}, Pearson {pearson[names[0]]:.3f})" if len(names) == 1 else "")
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=14)), height=540,
                      margin=dict(l=LEFT_MARGIN, r=10, t=50, b=40), xaxis_title="gold (0-5)",
                      yaxis_title="predicted (0-5)", legend=BELOW)
    fig.update_xaxes(range=[-0.1, 5.1], **AXES)
    fig.update_yaxes(range=[-0.1, 5.1], **AXES)
    return themed(fig)


def diagnostic_figure(a: A.Analysis, task: str, variant: str) -> go.Figure:
    return sts_scatter(a, variant) if get_task(task).regression else reliability_figure(a, task, variant)


# --- the error table --------------------------------------------------------------------------

def error_rows(a: A.Analysis, filters: Filters) -> tuple[pd.DataFrame, list[str]]:
    """Every row of `analysis.errors` that passes the filters (all of them: the CSV gets these)."""
    query, notes = filters.query()
    return A.errors(a, query), notes


def display_rows(task: str, rows: pd.DataFrame, limit: int = SHOW_ROWS) -> pd.DataFrame:
    """The columns a person reads, labels instead of codes; the id last (a row click uses it)."""
    spec = get_task(task)
    r = rows.head(limit)
    out = pd.DataFrame({"variant": r["variant"].astype(str)})
    if spec.multiclass:
        out["gold"] = [spec.label_text(g) for g in r["gold"]]
        out["predicted"] = [spec.label_text(p) for p in r["pred"]]
        out["P(pred)"] = r["conf"].astype(float).round(3)
        out["off by"] = r["error"].astype(int)
        out["sentence"] = r["sentence1"].astype(str)
    elif spec.binary:
        out["gold"] = [spec.label_text(g) for g in r["gold"]]
        out["P(duplicate)"] = r["prob"].astype(float).round(3)
        out["sentence 1"] = r["sentence1"].astype(str)
        out["sentence 2"] = r["sentence2"].astype(str)
    else:
        out["gold"] = r["gold"].astype(float).round(2)
        out["predicted"] = r["pred"].astype(float).round(2)
        out["error"] = r["error"].astype(float).round(2)
        out["sentence 1"] = r["sentence1"].astype(str)
        out["sentence 2"] = r["sentence2"].astype(str)
    if "other_pred" in r.columns:
        op = r["other_pred"].to_numpy()
        out[f"{r['other'].iloc[0] if len(r) else 'other'} predicted"] = (
            [spec.label_text(x) for x in op] if not spec.regression else np.round(op.astype(float), 2))
    out["words"] = r["words"].astype(int)
    out["id"] = r["id"].astype(str)  # last: a row click reads it (shown cut, see ui.CSS)
    return out


FIXED_WIDTHS = {"variant": 10, "gold": 10, "predicted": 10, "P(pred)": 7, "off by": 5, "error": 6, "P(duplicate)": 8,
                "words": 6, "id": 9}


def column_widths(columns: list[str], widths: dict[str, int] = FIXED_WIDTHS) -> list[str]:
    """Widths (percent) for a table of examples: fixed ones (`widths`) for the short columns, the
    rest shared by the sentences."""
    fixed = {c: widths.get(c, 10) for c in columns if not c.startswith("sentence")}
    sentences = [c for c in columns if c.startswith("sentence")]
    rest = max(20, 100 - sum(fixed.values()))
    return [f"{fixed[c]}%" if c in fixed else f"{rest / max(1, len(sentences)):.0f}%" for c in columns]


def count_line(rows: pd.DataFrame, filters: Filters, notes: list[str], seconds: float) -> str:
    n = len(rows)
    examples = rows["id"].nunique() if n else 0
    shown = f" (showing the first {SHOW_ROWS:,}; the CSV has all)" if n > SHOW_ROWS else ""
    who = "all variants" if filters.variant in (None, "", ALL_VARIANTS) else I.escape_md(filters.variant)
    cell = f" · cell: {describe_cell(filters.task, filters.cell)}" if filters.cell is not None else ""
    line = (f"**{n:,} rows** ({examples:,} distinct examples) of {who} on {get_task(filters.task).long_title}{cell}{shown}"
            f" · filtered in {seconds * 1000:.0f} ms")
    if filters.task == "quora":  # the dataset's caveat, not a property of binary tasks
        line += " · Quora numbers are optimistic (see the note above)."
    return "\n\n".join([line] + [f"⚠ {I.escape_md(n)}" for n in notes])


def filter_table(a: A.Analysis, filters: Filters) -> tuple[pd.DataFrame, str, pd.DataFrame]:
    """(display rows, count line, all matching rows). Errors in the filters become a message."""
    if a is None or not a.has(filters.task):
        return pd.DataFrame(), f"No {get_task(filters.task).long_title} predictions are available.", pd.DataFrame()
    start = time.perf_counter()
    try:
        rows, notes = error_rows(a, filters)
    except (KeyError, ValueError) as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        return pd.DataFrame(), f"⚠ {I.escape_md(message)}", pd.DataFrame()
    seconds = time.perf_counter() - start
    return display_rows(filters.task, rows), count_line(rows, filters, notes, seconds), rows


CSV_COLUMNS = ["variant", "id", "gold", "pred", "prob", "p0", "p1", "p2", "p3", "p4", "conf", "correct", "error",
               "other", "other_pred", "other_correct", "words", "sentence1", "sentence2"]


def export_limit_bytes() -> int:
    """Largest CSV an export writes: $MINIBERT_EXPORT_MAX_MB megabytes (default 10)."""
    return settings().export_max_bytes


def export_folder() -> Path:
    return Path(tempfile.gettempdir()) / f"minibert-exports-{os.getpid()}"


def _file_name(filters: Filters) -> str:
    parts = [filters.task, "all" if filters.variant in (None, "", ALL_VARIANTS) else filters.variant]
    if filters.cell is not None:
        parts.append(f"cell{filters.cell[0]}-{filters.cell[1]}")
    elif filters.kind not in (next(iter(ERROR_KINDS[filters.task])), "all examples"):
        parts.append(filters.kind.split(" (")[0].replace("|error| > ", "err-gt-"))
    if filters.other not in (None, "", NO_OTHER):
        parts.append(f"{RELATIONS.get(filters.relation, 'disagree').replace('_', '-')}-vs-{filters.other}")
    if filters.slice not in (None, "", NO_SLICE):
        parts.append(filters.slice.replace(" = ", "-"))
    if filters.search:
        parts.append(f"text-{filters.search[:20]}")
    if filters.word:
        parts.append(f"word-{filters.word[:20]}")
    if filters.regex:
        parts.append("regex")
    if filters.feature not in (None, "", NO_FEATURE):
        parts.append(filters.feature[:30])
    if filters.within is not None:
        parts.append("saved-slice")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in "-".join(parts))
    return f"errors-{safe[:120]}.csv"


def write_csv(a: A.Analysis, filters: Filters, folder: str | Path | None = None, max_bytes: int | None = None) -> Path | None:
    """Every filtered row (not only the shown ones) as a CSV file; None when nothing matches.
    BadInput, and no file, when the CSV would pass `max_bytes` (default `export_limit_bytes()`)."""
    if a is None or not a.has(filters.task):
        return None
    rows, _ = error_rows(a, filters)
    return write_rows_csv(rows, [c for c in CSV_COLUMNS if c in rows.columns], _file_name(filters), folder, max_bytes,
                          "for example to one variant, an error kind, a slice or a text search")


def write_rows_csv(rows: pd.DataFrame, cols: list[str], name: str, folder: str | Path | None = None,
                   max_bytes: int | None = None, narrow: str = "") -> Path | None:
    """`rows[cols]` as the CSV file `name` in the export folder; None when `rows` is empty. BadInput
    (`narrow` says how to make it smaller), and no file, when it would pass `max_bytes`.

    The folder holds one export at a time: the previous file is deleted first. That is safe in
    the app because exports run one at a time (the table queue) and Gradio has copied the file
    into its own cache (which `delete_cache` sweeps) before the event that made it ends."""
    if rows.empty:
        return None
    limit = export_limit_bytes() if max_bytes is None else max_bytes
    folder = Path(folder) if folder else export_folder()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.csv"):
        old.unlink(missing_ok=True)
    path = folder / name
    with open(path, "w", newline="", encoding="utf-8") as out:
        for start in range(0, len(rows), 2000):  # in chunks, so an export too large stops early
            rows[cols].iloc[start:start + 2000].to_csv(out, index=False, header=start == 0)
            if out.tell() > limit:
                break
        size = out.tell()
    if size > limit:
        path.unlink(missing_ok=True)
        raise I.BadInput(f"The export would be larger than {limit / 1e6:g} MB ({len(rows):,} rows): narrow it, "
                         f"{narrow}.")
    return path


# --- one example across variants --------------------------------------------------------------

def resolve_id(a: A.Analysis, task: str, example_id: str) -> str:
    """The full dev id of `example_id`, or of the one example whose id starts with it (handy
    when typing ids); the input unchanged when none or several match."""
    example_id = str(example_id).strip()
    ids = a.task(task).examples["id"].astype(str)
    if (ids == example_id).any():
        return example_id
    hits = ids[ids.str.startswith(example_id)] if example_id else ids.iloc[:0]
    return str(hits.iloc[0]) if len(hits) == 1 else example_id


def example_view(a: A.Analysis, task: str, example_id: str) -> tuple[str, pd.DataFrame, dict | None]:
    """(HTML card with the text and gold, one row per variant, the example as a dict for Compare)."""
    try:
        example_id = resolve_id(a, task, example_id)
        rows = A.example_across_variants(a, task, example_id)
    except (KeyError, ValueError) as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        return f'<div class="ex-card">{html.escape(message)}</div>', pd.DataFrame(), None
    first = rows.iloc[0]
    s1 = str(first["sentence1"])
    s2 = str(first["sentence2"]) if "sentence2" in rows.columns else ""
    spec = get_task(task)
    gold = spec.label_text(first["gold"])
    table = pd.DataFrame({"variant": rows["variant"].astype(str)})
    if spec.multiclass:
        table["predicted"] = [spec.label_text(p) for p in rows["pred"]]
        for k in range(5):
            table[f"P({SHORT_SST[k]})"] = rows[f"p{k}"].astype(float).round(3)
    elif spec.binary:
        table["predicted"] = [spec.label_text(p) for p in rows["pred"]]
        table["P(duplicate)"] = rows["prob"].astype(float).round(3)
    else:
        table["predicted"] = rows["pred"].astype(float).round(2)
        table["error"] = rows["error"].astype(float).round(2)
    table["right?"] = np.where(rows["correct"].to_numpy(dtype=bool), "✓ right", "✗ wrong")
    n_right = int(rows["correct"].sum())
    lines = [f'<div class="ex-meta">{html.escape(spec.long_title)} · dev id <code>{html.escape(example_id)}</code>'
             f' · gold: <b>{html.escape(gold)}</b> · right for {n_right} of {len(rows)} variants</div>',
             f'<div class="ex-text"><span class="ex-label">{"A" if s2 else ""}</span>{html.escape(s1)}</div>']
    if s2:
        lines.append(f'<div class="ex-text"><span class="ex-label">B</span>{html.escape(s2)}</div>')
    card = f'<div class="ex-card">{"".join(lines)}</div>'
    return card, table, {"task": task, "sentence1": s1, "sentence2": s2, "id": example_id,
                         "gold": _plain(first["gold"]), "outputs": stored_outputs(spec, rows)}


def _plain(value: object) -> object:
    """A table's number as plain JSON (a numpy scalar is not)."""
    return value.item() if hasattr(value, "item") else value


def stored_outputs(spec: object, rows: pd.DataFrame) -> dict:
    """Every variant's stored output for one example, as Compare's models give it (SST's five
    probabilities, P(duplicate), the similarity score): the "before" of a counterfactual."""
    if spec.multiclass:
        values = rows[list(spec.score_columns)].astype(float).to_numpy().tolist()
    elif spec.binary:
        values = rows["prob"].astype(float).tolist()
    else:
        values = rows["pred"].astype(float).tolist()
    return dict(zip(rows["variant"].astype(str), values))
