"""Findings in the app (issue 31): who writes, an example's tags and notes, a seeded random draw of
a variant's errors, and the error-analysis table (tag shares with Wilson intervals), as CSV and
LaTeX. Plain functions over `findings.Store`; the panel's wiring is demo/tabs/findings_tab.py."""
from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd

from analysis import SavedSlice, errors, saved_slices, wilson
from findings import STARTER_TAGS, FindingsError, FindingsSettings, Store, Writer, visible_slices

from .inputs import escape_md
from .saved_slices_view import describe

MAX_DRAW = 200
MAX_BULK = 2000        # examples one "tag them all" may tag (each user's row cap applies besides)
UNTAGGED = "(untagged)"


def writer_for(settings: FindingsSettings | None, profile: Any = None, request: Any = None) -> Writer | None:
    """The writer of a request: the signed-in Hugging Face user (a `gr.OAuthProfile` Gradio fills in
    from the session) or Gradio's own login (`gr.Request.username`); never a name from a form field."""
    if settings is None:
        return None
    profile_name = getattr(profile, "username", None) or (profile.get("preferred_username")
                                                          if isinstance(profile, dict) else None)
    login_name = getattr(request, "username", None)
    return settings.deployment.writer(profile_name if isinstance(profile_name, str) else None,
                                      login_name if isinstance(login_name, str) else None)


def status_md(store: Store | None, settings: FindingsSettings | None) -> str:
    """One line for the page: where findings go, or why they cannot be written ("" when all is well)."""
    if store is None or settings is None:
        return ""
    if not store.available:
        return f"⚠ Findings (tags, notes, saved slices) are unavailable: {escape_md(store.error)}. Everything else works."
    if settings.warning:
        return f"⚠ {escape_md(settings.warning)}"
    return ""


def example_md(store: Store | None, reader: Writer | None, task: str, example_id: str | None) -> str:
    """An example's tags (with how many people gave each) and notes (who, when), escaped."""
    if store is None or not example_id:
        return ""
    try:
        tag_rows = store.rows("tags", reader, task=task, example_id=example_id)
        note_rows = store.rows("notes", reader, task=task, example_id=example_id)
    except FindingsError as e:
        return f"⚠ {escape_md(e)}"
    if not tag_rows and not note_rows:
        return "No tags or notes on this example yet."
    lines = []
    if tag_rows:
        counts = pd.Series([r["tag"] for r in tag_rows]).value_counts()
        lines.append("**Tags:** " + ", ".join(f"{escape_md(t)} ×{n}" for t, n in counts.items()))
    for r in note_rows:
        about = f" (about {escape_md(r['variant'])})" if r["variant"] else ""
        lines.append(f"- {escape_md(r['text'])} — *{escape_md(r['author'])}, {r['created_at'][:16].replace('T', ' ')}*{about}")
    return "\n".join(lines)


def wanted_tags(chosen: list[str], free: str) -> list[str]:
    """The starter tags ticked (others are dropped: a checkbox sends only its own) and the
    comma-separated free ones, each once."""
    return list(dict.fromkeys([t for t in chosen if t in STARTER_TAGS]
                              + [" ".join(t.split()).lower() for t in (free or "").split(",") if t.strip()]))


def save_example(store: Store, who: Writer | None, why_not: str, task: str, example_id: str, chosen: list[str],
                 free: str, note: str, variant: str = "", shared: bool = True) -> str:
    """Tag (starter tags and comma-separated free ones) and note an example; the message to show."""
    if who is None:
        return why_not
    if not example_id:
        return "Open an example first (click a row)."
    wanted = wanted_tags(chosen, free)
    if not wanted and not (note or "").strip():
        return "Choose a tag, type one, or write a note."
    try:
        for tag in wanted:
            store.add_tag(who, task, example_id, tag, variant=variant, shared=shared)
        if (note or "").strip():
            store.add_note(who, task, example_id, note, variant=variant, shared=shared)
    except FindingsError as e:
        return f"Not saved: {escape_md(e)}"
    return f"Saved {len(wanted)} tag(s){' and a note' if (note or '').strip() else ''} as {escape_md(who.name)}."


def ask_bulk(who: Writer | None, why_not: str, task: str, ids: list[str], tags: list[str], what: str,
             shared: bool = True) -> tuple[str, dict | None]:
    """The question before tagging many examples at once, and what a confirmation would write
    (None when there is nothing to confirm: the message says why)."""
    if who is None:
        return why_not, None
    if not tags:
        return "Choose a tag or type one first.", None
    if not ids:
        return f"No examples in {what}: nothing to tag.", None
    if len(ids) > MAX_BULK:
        return (f"{what[0].upper() + what[1:]} holds {len(ids):,} examples; at most {MAX_BULK:,} are tagged at once. "
                "Narrow it first."), None
    listed = ", ".join(f"“{escape_md(t)}”" for t in tags)
    return (f"Tag **{len(ids):,} examples** ({what}) with {listed}? Nothing is saved until you confirm.",
            {"task": task, "ids": list(ids), "tags": list(tags), "what": what, "shared": bool(shared)})


def tag_bulk(store: Store, who: Writer | None, why_not: str, pending: object) -> str:
    """Write a confirmed bulk tagging (`ask_bulk`'s pending dict), tag by tag (each all or none)."""
    if who is None:
        return why_not
    if not isinstance(pending, dict) or not pending.get("ids"):
        return "Nothing to confirm: ask again."
    added = 0
    try:
        for tag in pending["tags"]:
            added += store.add_tags(who, pending["task"], pending["ids"], tag, shared=pending.get("shared", True))
    except FindingsError as e:
        return f"Not saved{' (the tags before it were)' if added else ''}: {escape_md(e)}"
    return (f"Tagged {len(pending['ids']):,} examples ({escape_md(pending['what'])}): {added:,} new tag(s) as "
            f"{escape_md(who.name)}.")


def save_slice(store: Store, who: Writer | None, why_not: str, query: Any, name: str, shared: bool = True) -> str:
    """Keep an Errors filter (an `analysis.ErrorQuery`) under a name: the query's dict is what is stored."""
    if who is None:
        return why_not
    try:
        row = store.save_slice(who, name, query.task, query.to_dict(), shared=shared)
    except FindingsError as e:
        return f"Not saved: {escape_md(e)}"
    return f"Saved the filter as slice “{escape_md(row['name'])}” ({query.task})."


# The columns of the Findings tab's tables, so that an empty table (before a first click, or after
# a refusal) shows its own headers rather than Gradio's placeholder ones.
DRAWN_COLUMNS = ["id"]
TAGS_COLUMNS = ["tag", "count", "share", "low", "high", "examples"]
AGREEMENT_COLUMNS = ["tagger A", "tagger B", "examples both tagged", "Cohen's kappa"]
SLICES_COLUMNS = ["name", "task", "author", "shared", "filter"]


def empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=columns)


def slices_table(store: Store, reader: Writer | None) -> pd.DataFrame:
    """The saved slices a reader may see: name, task, who, and the filter in words of its fields."""

    def words(query: str) -> str:
        try:
            return describe(json.loads(query))
        except (TypeError, ValueError, AttributeError):
            return "(its filter no longer reads)"
    return pd.DataFrame([[r["name"], r["task"], r["author"], r["shared"], words(r["query"])]
                         for r in visible_slices(store, reader)], columns=SLICES_COLUMNS)


def saved_for_why(store: Store | None, settings: FindingsSettings | None, task: str, profile: Any = None,
                  request: Any = None) -> tuple[tuple[SavedSlice, ...], list[str]]:
    """The saved slices of `task` this request's user may see (shared ones and their own), as the
    "why" report tests them, and a line per one that no longer reads; nothing when the store is
    unavailable (the report is served without them, and says so)."""
    if store is None:
        return (), []
    try:
        if not store.available:
            raise FindingsError("unavailable")
        rows = visible_slices(store, writer_for(settings, profile, request), task=task)
    except FindingsError:  # its text may name the database: the page's status line says the rest
        return (), ["Saved slices cannot be read now: the findings database is unavailable."]
    found, problems = saved_slices(rows)
    return tuple(found), problems


def error_ids(a: Any, task: str, variant: str) -> list[str]:
    """The dev examples `variant` gets wrong (as the Errors tab counts them), in a fixed order."""
    rows = errors(a, task, variant, sort="id")
    return [str(i) for i in rows["id"].tolist()]


def draw(ids: list[str], n: int, seed: int) -> list[str]:
    """`n` of `ids` at random, repeatable from `seed` (numpy's PCG64)."""
    if n < 1:
        return []
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(ids), size=min(n, len(ids)), replace=False)
    return [ids[i] for i in picked]


def draw_sample(store: Store, who: Writer | None, why_not: str, a: Any, task: str, variant: str, n: int,
                seed: int) -> tuple[str, list[str]]:
    """Draw `n` of a variant's errors at random and keep the draw (seed and ids) so tag shares over
    it estimate the whole; returns the message and the ids drawn."""
    if who is None:
        return why_not, []
    if not 1 <= n <= MAX_DRAW:
        return f"Draw between 1 and {MAX_DRAW} errors.", []
    population = error_ids(a, task, variant)
    if not population:
        return f"{escape_md(variant)} makes no errors on {task}.", []
    ids = draw(population, n, seed)
    try:
        sample = store.record_sample(who, task, variant, seed, len(population), ids)
    except FindingsError as e:
        return f"Not saved: {escape_md(e)}", []
    return (f"Drew {len(ids)} of {variant}'s {len(population):,} {task} errors (seed {seed}, sample "
            f"#{sample['id']}). Tag them: the table's shares then estimate all its errors."), ids


def analysis_table(store: Store, reader: Writer | None, task: str, variant: str) -> tuple[pd.DataFrame, str]:
    """How `variant`'s errors split across tags: over its random draws (share with a 95 % Wilson
    interval, the untagged counted) when there are any, else over whatever was tagged, marked as
    hand-picked (no interval: a chosen set does not estimate the whole)."""
    samples = store.rows("samples", reader, task=task, variant=variant)
    drawn = list(dict.fromkeys(i for s in samples for i in json.loads(s["example_ids"])))
    tag_rows = [r for r in store.rows("tags", reader, task=task) if r["variant"] in ("", variant)]
    if drawn:
        pool, basis = drawn, f"random sample of {len(drawn)} errors ({len(samples)} draw(s))"
    else:
        pool = list(dict.fromkeys(r["example_id"] for r in tag_rows))
        basis = f"hand-picked: {len(pool)} tagged examples (shares describe these, not all errors)"
    chosen = set(pool)
    by_tag: dict[str, set[str]] = {}
    for r in tag_rows:
        if r["example_id"] in chosen:
            by_tag.setdefault(r["tag"], set()).add(r["example_id"])
    n = len(pool)
    tagged = set().union(*by_tag.values()) if by_tag else set()
    rows = []
    for tag, ids in sorted(by_tag.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        rows.append(_row(tag, len(ids), n, sorted(ids)[:3], drawn))
    rows.append(_row(UNTAGGED, n - len(tagged), n, [i for i in pool if i not in tagged][:3], drawn))
    return pd.DataFrame(rows, columns=TAGS_COLUMNS), basis


def cohen_kappa(a: list[bool], b: list[bool]) -> float:
    """Cohen's kappa of two raters' yes/no answers on the same items (NaN when chance explains all)."""
    n = len(a)
    if n == 0:
        return float("nan")
    observed = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return float("nan") if expected == 1 else (observed - expected) / (1 - expected)


def agreement(tag_rows: list[dict]) -> pd.DataFrame:
    """For each two people who tagged the same examples: on those examples, every (example, tag)
    either gave is one yes/no item, and their Cohen's kappa over those items."""
    given: dict[str, dict[str, set[str]]] = {}
    for r in tag_rows:
        given.setdefault(r["author"], {}).setdefault(r["example_id"], set()).add(r["tag"])
    out = []
    people = sorted(given)
    for i, p in enumerate(people):
        for q in people[i + 1:]:
            common = sorted(set(given[p]) & set(given[q]))
            if not common:
                continue
            tags = sorted(set().union(*(given[p][e] | given[q][e] for e in common)))
            a = [t in given[p][e] for e in common for t in tags]
            b = [t in given[q][e] for e in common for t in tags]
            out.append([p, q, len(common), cohen_kappa(a, b)])
    return pd.DataFrame(out, columns=AGREEMENT_COLUMNS)


def _row(tag: str, k: int, n: int, examples: list[str], random: list[str]) -> list:
    share = k / n if n else float("nan")
    low, high = wilson(k, n) if (random and n) else (float("nan"), float("nan"))
    return [tag, k, share, low, high, ", ".join(examples)]


def table_csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, float_format="%.4f")


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(s: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in s)


def table_latex(table: pd.DataFrame, variant: str, basis: str) -> str:
    """A LaTeX tabular (booktabs) for a report: tag, count, share and its interval."""
    out = io.StringIO()
    out.write("\\begin{tabular}{lrrl}\n\\toprule\n")
    out.write("Tag & Count & Share & 95\\% interval \\\\\n\\midrule\n")
    for r in table.itertuples(index=False):
        interval = "" if np.isnan(r.low) else f"[{100 * r.low:.0f}, {100 * r.high:.0f}]\\%"
        share = "" if np.isnan(r.share) else f"{100 * r.share:.0f}\\%"
        out.write(f"{_tex(r.tag)} & {r.count} & {share} & {interval} \\\\\n")
    out.write("\\bottomrule\n\\end{tabular}\n")
    out.write(f"% {_tex(variant)}: {_tex(basis)}\n")
    return out.getvalue()

