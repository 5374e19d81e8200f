"""Map tab: each variant's 2-D map of its dev examples (analysis.embedding_map, precomputed by
`python -m analysis build`; nothing here runs a model or needs umap-learn), coloured by gold
label, prediction, error or slice; a box or lasso drawn on either map, or a box of coordinates
typed for the first, selects examples (a `MapSelection`: task, map, example ids), which are listed
and ringed on both maps.

Plain functions, no Gradio: `EmbeddingMap.load(a)` reads the table once; `view(...)` draws.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import analysis as A
from analysis import QUORA_NOTE, in_region
from minibert.tasks import TASK_NAMES
from minibert.tasks import task as get_task

from . import glossary as G
from . import inputs as I
from .palette import PALETTE, toolbar_aside

GOLD, PRED, ERROR = "gold label", "prediction", "error"
SLICE_PREFIX = "slice: "
MAX_LISTED = 200  # rows of the selection table; the count line gives the full number
HOVER_CHARS = 70
STS_BINS = ("0–1", "1–2", "2–3", "3–4", "4–5")
ERROR_COLORS = {"right": "#9ecae1", "wrong": "#d62728"}
RING = "#111111"
COORD_DIGITS = 3  # a map's axes span units to tens: a thousandth is far below a point's size


@dataclass
class TaskMap:
    """One task's points, per variant: example rows and coordinates, as numpy arrays."""
    ex: dict[str, np.ndarray] = field(default_factory=dict)
    xy: dict[str, np.ndarray] = field(default_factory=dict)
    hover: np.ndarray | None = None  # per dev example: its text for the tooltip (only mapped ones filled)


@dataclass
class EmbeddingMap:
    tasks: dict[str, TaskMap] = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, a: A.Analysis | None) -> EmbeddingMap:
        return cls.from_reading(a, A.derived_analysis("embedding_map").read(a))

    @classmethod
    def from_reading(cls, a: A.Analysis | None, reading: A.Reading) -> EmbeddingMap:
        out = cls(provenance=reading.provenance, problems=list(reading.problems))
        if a is None or not reading.ready:
            return out
        points = reading.data
        for task, rows in points.groupby("task", sort=False):
            if not a.has(task):
                continue
            known = set(a.variants(task))
            tm = TaskMap()
            for variant, part in rows.groupby("variant", sort=True):
                if variant in known:
                    tm.ex[variant] = part["ex"].to_numpy(np.int64)
                    tm.xy[variant] = part[["x", "y"]].to_numpy(np.float32)
            if tm.ex:
                tm.hover = _hover_texts(a, task, np.unique(np.concatenate(list(tm.ex.values()))))
                out.tasks[task] = tm
        out.tasks = {t: out.tasks[t] for t in TASK_NAMES if t in out.tasks}
        return out

    def task_names(self) -> list[str]:
        return list(self.tasks)

    def variants(self, task: str) -> list[str]:
        return list(self.tasks[task].ex)


def _hover_texts(a: A.Analysis, task: str, rows: np.ndarray) -> np.ndarray:
    """The tooltip text of each dev example in `rows` (escaped, cut to HOVER_CHARS), by row."""
    examples = a.task(task).examples

    def short(text: object) -> str:
        text = str(text)
        return html.escape(text if len(text) <= HOVER_CHARS else text[:HOVER_CHARS - 1] + "…")

    out = np.full(len(examples), "", dtype=object)
    first = examples["sentence1"].to_numpy()[rows]
    if get_task(task).pair:
        second = examples["sentence2"].to_numpy()[rows]
        out[rows] = [f"{short(s1)}<br>{short(s2)}" for s1, s2 in zip(first, second)]
    else:
        out[rows] = [short(s) for s in first]
    return out


def color_choices(task: str) -> list[str]:
    return [GOLD, PRED, ERROR] + [SLICE_PREFIX + name for name in A.slice_names(task)]


def _label_names(task: str, values: np.ndarray) -> np.ndarray:
    """Gold labels or predictions as names: class names, or STS scores in unit bins."""
    spec = get_task(task)
    if spec.regression:
        return np.array(STS_BINS, dtype=object)[np.clip(np.floor(values), 0, 4).astype(int)]
    return np.array(spec.classes, dtype=object)[values.astype(int)]


def point_groups(a: A.Analysis, task: str, variant: str, color_by: str, ex: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(a group name per point, the groups in legend order) for colouring `variant`'s points."""
    td = a.task(task)
    spec = get_task(task)
    if color_by == GOLD:
        names = _label_names(task, td.examples["gold"].to_numpy()[ex].astype(float))
        order = list(STS_BINS if spec.regression else spec.classes)
    elif color_by == PRED:
        names = _label_names(task, td.pred[ex, td.variant_index(variant)])
        order = list(STS_BINS if spec.regression else spec.classes)
    elif color_by == ERROR:
        names = np.where(td.correct[ex, td.variant_index(variant)], "right", "wrong").astype(object)
        order = ["right", "wrong"]
    else:
        labels = A.slice_labels(a, task, color_by[len(SLICE_PREFIX):])
        names = labels.astype(str).to_numpy()[ex].astype(object)
        order = [str(c) for c in labels.cat.categories]
    return names, [g for g in order if (names == g).any()]


def _color(task: str, color_by: str, group: str, k: int) -> str:
    if color_by == ERROR:
        return ERROR_COLORS[group]
    if color_by in (GOLD, PRED) and task == "sst":
        from .compare_view import SST_COLORS
        return SST_COLORS[k]
    if color_by in (GOLD, PRED) and task == "sts":
        return ("#b35806", "#f1a340", "#bababa", "#67a9cf", "#2166ac")[k]
    return PALETTE[k % len(PALETTE)]


def map_figure(a: A.Analysis, m: EmbeddingMap, task: str, variant: str, color_by: str,
               selected: np.ndarray | None = None, box: tuple | None = None) -> go.Figure:
    """`variant`'s map of `task`: one SVG scatter trace per colour group, the selected examples
    (dev rows) ringed, and the selection box drawn when given. SVG, not WebGL: at a map's
    thousand or two points SVG is drawn before a WebGL context has even opened
    (docs/BENCHMARKS.md). Coordinates go to the page rounded to COORD_DIGITS decimals."""
    tm = m.tasks[task]
    ex, xy = tm.ex[variant], np.round(tm.xy[variant].astype(np.float64), COORD_DIGITS)
    groups, order = point_groups(a, task, variant, color_by, ex)
    hover = tm.hover[ex]
    data = []
    for k, group in enumerate(order):
        keep = groups == group
        # customdata: each point's dev row, what the page reports back when a box or lasso selects it
        data.append({"type": "scatter", "mode": "markers", "name": group, "x": xy[keep, 0].tolist(),
                     "y": xy[keep, 1].tolist(), "text": hover[keep].tolist(), "customdata": ex[keep].tolist(),
                     "marker": {"size": 5, "opacity": 0.75, "color": _color(task, color_by, group, k)},
                     "hovertemplate": f"%{{text}}<br>{html.escape(group)} (x %{{x:.2f}}, y %{{y:.2f}})<extra></extra>"})
    if selected is not None and len(selected):
        keep = np.isin(ex, selected)
        data.append({"type": "scatter", "mode": "markers", "name": f"selected ({int(keep.sum())})",
                     "x": xy[keep, 0].tolist(), "y": xy[keep, 1].tolist(), "text": hover[keep].tolist(),
                     "customdata": ex[keep].tolist(),
                     "marker": {"size": 10, "color": "rgba(0,0,0,0)", "line": {"width": 1.6, "color": RING}},
                     "hovertemplate": "%{text}<br>selected<extra></extra>"})
    shapes = []
    if box is not None:
        (x0, x1), (y0, y1) = box
        shapes.append({"type": "rect", "x0": x0, "x1": x1, "y0": y0, "y1": y1,
                       "line": {"color": RING, "width": 1, "dash": "dot"}})
    layout = {"title": {"text": f"{html.escape(variant)}: {len(ex):,} points", "x": 0, "xanchor": "left",
                        "font": {"size": 14}},
              "height": 460, "margin": {"l": 40, "r": 10, "t": 50, "b": 40},
              "legend": {"orientation": "h", "y": -0.12}, "shapes": shapes, "dragmode": "select",
              "xaxis": {"zeroline": False}, "yaxis": {"zeroline": False},
              "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}
    return go.Figure({"data": data, "layout": toolbar_aside(layout)}, _validate=False)


def _bound(value: object, what: str) -> float | None:
    """An optional finite number (None, "" and NaN mean none)."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        raise I.BadInput(f"{what} must be a number, not {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise I.BadInput(f"{what} must be a number, not {str(value)[:40]!r}.") from None
    if not math.isfinite(number):
        raise I.BadInput(f"{what} must be a finite number.")
    return number


def parse_box(x0: object, x1: object, y0: object, y1: object) -> tuple | None:
    """The region as ((x0, x1), (y0, y1)), or None when no bound is given; refuses a half-given box."""
    values = [_bound(v, what) for v, what in ((x0, "x from"), (x1, "x to"), (y0, "y from"), (y1, "y to"))]
    given = [v is not None for v in values]
    if not any(given):
        return None
    if not all(given):
        raise I.BadInput("Give all four bounds of the region (x from, x to, y from, y to), or none.")
    return (values[0], values[1]), (values[2], values[3])


@dataclass(frozen=True)
class MapSelection:
    """The examples selected on one map: what the Map tab lists and rings, and what a later feature
    (a findings store) tags. `ids` are dev example ids in the map's order; `how` says how they were
    picked, for the reader ("a box x 0…1, y 2…3", "drawn on the map")."""
    task: str
    variant: str
    ids: tuple[str, ...]
    how: str = "drawn on the map"

    def to_dict(self) -> dict:
        return {"task": self.task, "variant": self.variant, "ids": list(self.ids), "how": self.how}


def _selection_of(a: A.Analysis, task: str, variant: str, rows: np.ndarray, how: str) -> MapSelection:
    ids = a.task(task).examples["id"].to_numpy()[rows]
    return MapSelection(task, variant, tuple(str(i) for i in ids), how)


def box_selection(a: A.Analysis, m: EmbeddingMap, task: str, variant: str, box: tuple) -> MapSelection:
    """The examples inside `box` on `variant`'s map."""
    xy = m.tasks[task].xy[variant]
    rows = m.tasks[task].ex[variant][in_region(xy[:, 0], xy[:, 1], *box)]
    (x0, x1), (y0, y1) = box
    return _selection_of(a, task, variant, rows, f"a box x {min(x0, x1):g}…{max(x0, x1):g}, "
                                                 f"y {min(y0, y1):g}…{max(y0, y1):g}")


def parse_rows(value: object) -> list[int]:
    """The dev rows a selection on the page reports (a list, or text "3,17,42"); BadInput otherwise."""
    if isinstance(value, str):
        value = [v for v in value.replace(" ", "").split(",") if v]
    if not isinstance(value, (list, tuple)):
        raise I.BadInput("A selection is a list of example rows.")
    rows = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise I.BadInput(f"An example row is a whole number, not {str(v)[:40]!r}.")
        try:
            number = float(v)
        except ValueError:
            raise I.BadInput(f"An example row is a whole number, not {str(v)[:40]!r}.") from None
        if not number.is_integer():
            raise I.BadInput(f"An example row is a whole number, not {str(v)[:40]!r}.")
        rows.append(int(number))
    return rows


def drawn_selection(a: A.Analysis, m: EmbeddingMap, task: str, variant: str, rows: object) -> MapSelection:
    """The examples a box or lasso drawn on `variant`'s map selected, from the rows the page sent:
    only rows that are points of that map count (a page can send anything)."""
    wanted = parse_rows(rows)
    ex = m.tasks[task].ex[variant]
    keep = ex[np.isin(ex, np.asarray(wanted, dtype=np.int64))] if wanted else ex[:0]
    return _selection_of(a, task, variant, keep, "drawn on the map")


def selected_rows(a: A.Analysis, sel: MapSelection | None, task: str) -> np.ndarray:
    """The dev rows of a selection (empty for none, or for another task's)."""
    if sel is None or sel.task != task or not sel.ids:
        return np.zeros(0, dtype=np.int64)
    ids = a.task(task).examples["id"].astype(str)
    return np.flatnonzero(ids.isin(set(sel.ids)).to_numpy()).astype(np.int64)


def selection_table(a: A.Analysis, task: str, rows: np.ndarray, variants: list[str]) -> pd.DataFrame:
    """The selected examples: id, text, gold, each variant's prediction (first MAX_LISTED)."""
    td = a.task(task)
    spec = get_task(task)
    rows = rows[:MAX_LISTED]
    examples = td.examples.iloc[rows]
    out = pd.DataFrame({"id": examples["id"].to_numpy()})
    gold = examples["gold"].to_numpy().astype(float)
    out["gold"] = np.round(gold, 2) if spec.regression else _label_names(task, gold)
    for v in dict.fromkeys(variants):
        pred = td.pred[rows, td.variant_index(v)]
        out[f"{v} pred"] = np.round(pred, 2) if spec.regression else _label_names(task, pred)
        out[f"{v} right"] = np.where(td.correct[rows, td.variant_index(v)], "✓", "✗")
    out["sentence1"] = examples["sentence1"].to_numpy()
    if spec.pair:
        out["sentence2"] = examples["sentence2"].to_numpy()
    return out


def note(m: EmbeddingMap, task: str, variants: list[str]) -> str:
    """What the points are (Markdown): the vectors mapped, the Quora sample, who is left out."""
    provenance = m.provenance
    features = provenance.get("features", {})
    lines = [f"One point per dev example: the vector the {get_task(task).title.lower()} head reads, projected to "
             f"2-D by UMAP (seed {provenance.get('seed', '?')}). Axes have no units and two maps' axes are "
             "unrelated: compare neighbourhoods, not positions."]
    for v in dict.fromkeys(variants):
        lines.append(f"- **{I.escape_md(v)}**: {I.escape_md(features.get(v, {}).get(task, '?'))}")
    lines.append("")
    if task == "quora":
        lines.append(f"Quora: a fixed random sample of {provenance.get('quora_sample', '?'):,} dev pairs "
                     f"(seed {provenance.get('seed', '?')}), not all of them. {QUORA_NOTE}")
    for name, why in provenance.get("left_out", {}).items():
        lines.append(f"\n*{I.escape_md(name)}* has no map: {I.escape_md(why)}.")
    lines += ["", G.explain("umap")]
    return "\n".join(lines)


def count_line(task: str, sel: MapSelection | None) -> str:
    if sel is None:
        return ("Drag a box on either map (or pick the lasso in its toolbar) to list those examples and ring them on "
                "both maps; double-click a map to clear. Or type a region of the first map's axes below.")
    n = len(sel.ids)
    listed = f"; the first {MAX_LISTED} listed" if n > MAX_LISTED else ""
    return (f"**{n:,}** {get_task(task).dataset} examples selected on **{I.escape_md(sel.variant)}**'s map "
            f"({I.escape_md(sel.how)}){listed}.")


def view(a: A.Analysis, m: EmbeddingMap, task: str, variant_a: str, variant_b: str, color_by: str,
         box: tuple | None, sel: MapSelection | None = None) -> tuple[go.Figure, go.Figure, pd.DataFrame, str, str]:
    """Both maps with the selection ringed (`sel`, else the examples in `box` on the first map), the
    selected examples' table, the count line and the note."""
    if sel is None and box is not None:
        sel = box_selection(a, m, task, variant_a, box)
    if sel is not None and sel.task != task:
        sel = None
    rows = selected_rows(a, sel, task)
    fig_a = map_figure(a, m, task, variant_a, color_by, rows, box)
    fig_b = map_figure(a, m, task, variant_b, color_by, rows)
    table = selection_table(a, task, rows, [variant_a, variant_b])
    return fig_a, fig_b, table, count_line(task, sel), note(m, task, [variant_a, variant_b])
