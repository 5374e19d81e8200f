"""The report as a zip to take away: Markdown, figures (PNG and SVG) and the main table as LaTeX.

matplotlib is imported here only (Agg: no display, no browser download)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from .report import WhyReport
from .text import latex_table, task_title

MAX_ZIP_BYTES = 10 * 2**20  # the project's budget for any one file


def _figures(r: WhyReport) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    out: dict[str, bytes] = {}
    shown = r.findings[:10][::-1]
    fig = Figure(figsize=(7, 0.45 * max(len(shown), 2) + 1.2))
    ax = fig.add_subplot()
    if shown:
        y = range(len(shown))
        effects = [x.effect for x in shown]
        err = [[x.effect - x.lo for x in shown], [x.hi - x.effect for x in shown]]
        ax.barh(list(y), effects, xerr=err, color=["#4c72b0" if e > 0 else "#dd8452" for e in effects], capsize=3)
        ax.set_yticks(list(y), [f"{x.name[:45]} (n={x.n})" for x in shown], fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"inside minus outside: {r.quantity[:70]}", fontsize=8)
    ax.set_title(f"{task_title(r)}: {r.a}" + (f" vs {r.b}" if r.b else "") + " (95 % intervals)", fontsize=10)
    fig.tight_layout()
    out.update(_save(fig, "figures/slices"))
    if r.b is not None:
        f = r.flips
        fig = Figure(figsize=(4.5, 3))
        ax = fig.add_subplot()
        ax.bar([f"{r.a} right,\n{r.b} wrong", f"{r.a} wrong,\n{r.b} right"],
               [f["a_right_b_wrong"], f["a_wrong_b_right"]], color=["#4c72b0", "#dd8452"])
        ax.set_ylabel("examples")
        ax.set_title(f"{task_title(r)}: flips", fontsize=10)
        fig.tight_layout()
        out.update(_save(fig, "figures/flips"))
    return out


def _save(fig: object, stem: str) -> dict[str, bytes]:
    out = {}
    for fmt in ("png", "svg"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=150)
        out[f"{stem}.{fmt}"] = buffer.getvalue()
    return out


def export_bytes(r: WhyReport) -> bytes:
    """The zip's bytes: report.md, report.json, table.tex and figures/*.png|svg."""
    files = {"report.md": r.to_markdown().encode(), "report.json": r.to_json().encode(),
             "table.tex": latex_table(r).encode(), **_figures(r)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    data = buffer.getvalue()
    if len(data) > MAX_ZIP_BYTES:
        raise ValueError(f"the report's zip is {len(data) / 2**20:.1f} MB, over the {MAX_ZIP_BYTES // 2**20} MB bound")
    return data


def export_zip(r: WhyReport, path: Path) -> Path:
    path = Path(path)
    path.write_bytes(export_bytes(r))
    return path
