"""The report as prose and tables (Markdown) and its main table as LaTeX."""

from __future__ import annotations

from minibert.tasks import task as get_task

from ..formatting import inert_markdown
from ..formatting import p_value as format_p
from .report import WhyReport


def task_title(r: WhyReport) -> str:
    """The task as the app names it ("Paraphrase (Quora)"); the key ("quora") stays in the JSON."""
    return get_task(r.task).long_title


def _num(x: float | None, digits: int = 3) -> str:
    if x is None or x != x:
        return "n/a"
    text = f"{x:+.{digits}f}"
    return text[1:] if float(text) == 0 else text  # no "-0.000" for a difference that rounds to nothing


def _val(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None or x != x else f"{x:.{digits}f}"


def _p_is(p: float | None) -> str:
    """ "p = 0.43" or "p < 0.001", never "p = < 0.001"."""
    shown = format_p(p)
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"


def _pct(x: float | None) -> str:
    return "not shown" if x is None else f"{100 * x:.0f} %"


def headline_sentence(r: WhyReport) -> str:
    h = r.headline
    if r.b is None:
        return (f"{r.a} on {task_title(r)}: {r.metric} {_val(h['a'])} (95 % interval {_val(h['a_lo'])} to "
                f"{_val(h['a_hi'])}), {r.flips['errors']:,} errors of {r.flips['n']:,} examples.")
    verb = "beats" if h["difference"] > 0 else "trails"
    clear = not (h["lo"] <= 0 <= h["hi"])
    return (f"{r.a} {verb} {r.b} on {task_title(r)} {r.metric} by {_val(abs(h['difference']))} ({_val(h['a'])} vs "
            f"{_val(h['b'])}; paired 95 % interval {_num(h['lo'])} to {_num(h['hi'])}, n = {h['n']:,})"
            f"{'' if clear else ': the interval contains 0, so the two are not distinguishable'}.")


def markdown(r: WhyReport) -> str:
    title = f"Why {r.a} vs {r.b} on {task_title(r)}" if r.b else f"Where {r.a} fails on {task_title(r)}"
    out = [f"# {title}", ""]
    if r.same is not None and r.same["same"]:
        out += [f"**Practically the same:** {r.a} and {r.b} agree on {100 * r.same['agreement']:.1f} % of "
                f"examples ({r.same['agreement_means']}), and the difference is within {r.same['rule']}.", ""]
    out += [headline_sentence(r), ""]
    f = r.flips
    if r.b is not None:
        line = (f"Flips: {r.a} right and {r.b} wrong on {f['a_right_b_wrong']:,} examples, the reverse on "
                f"{f['a_wrong_b_right']:,} (both right {f['both_right']:,}, both wrong {f['both_wrong']:,})")
        if f.get("mcnemar_p") is not None:
            line += f"; exact McNemar {_p_is(f['mcnemar_p'])}."
        else:
            add = r.headline["additive"]
            line += (f" (right: {f['right_means']}); {add['what']}: {_num(add['value'])} (95 % interval "
                     f"{_num(add['lo'])} to {_num(add['hi'])}).")
        out += [line, ""]
        if r.same is not None and not r.same["same"]:
            out += [f"Agreement: the two give the same answer on {100 * r.same['agreement']:.1f} % of examples "
                    f"({r.same['agreement_means']}).", ""]
    t = r.tested
    out += ["## Where the gap lives" if r.b else "## Where the errors concentrate", "",
            f"Per-example quantity: {r.quantity}. Tested {t['slices']:,} slices ({t['single']} single features, "
            f"{t['pairs']:,} two-feature conjunctions; {t['features']} features, {t['predicates']} predicates; "
            f"at least {t['min_support']} examples inside and outside); {t['correction']}; "
            f"{t['discoveries']} at adjusted p < {t['alpha']}. Each slice compares the mean inside with the mean "
            f"outside ({t['test']}). Share: the slice's part of the whole gap's sum; shares of overlapping slices do not add "
            "up, and a share below 0 or above 100 % means the slice goes against the gap or holds more than all of "
            "it (the rest goes the other way).", ""]
    out += _finding_rows(r, r.findings)
    out.append("")
    if r.findings:
        out += ["Definitions:", ""] + [f"- **{x.name}**: {x.definition}" for x in r.findings[:5]] + [""]
    if r.saved:
        out += _saved_section(r)
    if r.families:
        out += ["## Families", "",
                "Variants grouped by what their recipes share. Each comparison's interval is that of the smallest "
                "gap between a member of the leading family and a member of the other (paired bootstrap over the "
                "examples, all variants on the same resamples); only an interval above 0 makes the gap the whole "
                "family's.", ""] + [f"- {f['text']}" for f in r.families] + [""]
    if r.confident:
        out += ["## Most telling examples", ""]
        labels = {"a_right_b_wrong": f"{r.a} right, {r.b} wrong", "a_wrong_b_right": f"{r.a} wrong, {r.b} right",
                  "a_wrong": f"{r.a} wrong, most confident first"}
        for key, items in r.confident.items():
            if not items:
                continue
            out.append(f"{labels[key]}:")
            for e in items:
                text = e["sentence1"] + (f" / {e['sentence2']}" if "sentence2" in e else "")
                extra = f", B {e['b_pred']:g}" if "b_pred" in e else ""
                conf = f", loser's confidence {e['loser_confidence']:.2f}" if "loser_confidence" in e else ""
                out.append(f"- `{e['id']}` gold {e['gold']:g}, A {e['a_pred']:g}{extra}{conf}: {text[:200]}")
            out.append("")
    ev = r.evidence
    if ev:
        out += ["## Other evidence", ""]
        for b in ev.get("behaviour") or []:
            out.append(f"- Behavioural test \"{b['test']}\" ({b['n']} cases): {r.a} fails {100 * b['a_fail']:.0f} % "
                       f"({100 * b['a_lo']:.0f}-{100 * b['a_hi']:.0f}), {r.b} {100 * b['b_fail']:.0f} % "
                       f"({100 * b['b_lo']:.0f}-{100 * b['b_hi']:.0f}); McNemar adjusted {_p_is(b['p_adjusted'])}")
        c = ev.get("calibration")
        if c:
            out.append(f"- Calibration (ECE): {r.a} {c['a_ece']:.3f}, {r.b} {c['b_ece']:.3f}; difference "
                       f"{_num(c['difference'])} (95 % interval {_num(c['lo'])} to {_num(c['hi'])}, {c['method']})")
        le = ev.get("label_errors")
        if le:
            out.append(f"- Likely label errors ({le['rule']}: {le['flagged']:,} examples): {le['a_wins_flagged']} of "
                       f"{r.a}'s {le['a_wins']:,} wins and {le['b_wins_flagged']} of {r.b}'s {le['b_wins']:,} wins "
                       "fall on them")
        out.append("")
    if r.missing or r.notes:
        out += ["## Missing and notes", ""] + [f"- missing: {m}" for m in r.missing] + [f"- {n}" for n in r.notes]
        out.append("")
    return "\n".join(out)


def _finding_rows(r: WhyReport, found: list, name: object = str) -> list[str]:
    """The findings table's header and one row per finding (`name` renders the slice's name)."""
    own = "MSE" if r.task == "sts" else "accuracy"
    sides = f"{r.a} / {r.b} {own} inside" if r.b else f"{r.a} {own} inside"
    out = [f"| slice | n | inside | outside | inside - outside (95 % CI) | adj. p | share | {sides} |",
           "|---|---|---|---|---|---|---|---|"]
    for x in found:
        flag = " (n < 100)" if x.small else ""
        both = _val(x.a_inside) + (f" / {_val(x.b_inside)}" if r.b else "")
        out.append(f"| {name(x.name)} | {x.n:,}{flag} | {_num(x.mean_in)} | {_num(x.mean_out)} | {_num(x.effect)} "
                   f"({_num(x.lo)} to {_num(x.hi)}) | {format_p(x.p_adjusted)} | {_pct(x.share)} | {both} |")
    return out


def _saved_section(r: WhyReport) -> list[str]:
    """People's saved slices, apart from the automatic search: hypotheses, adjusted among themselves."""
    s = r.saved
    out = ["## Saved slices: hypotheses, not findings", "",
           f"{s['saved']} saved slice{'s' if s['saved'] != 1 else ''} of this task, {s['tested']} tested. A slice someone "
           "chose after looking at the data is a hypothesis to check on other data, not a finding of this search: "
           f"each is tested inside against outside as above, with {s['correction']} "
           f"({s['discoveries']} at adjusted p < {s['alpha']}). Only a saved filter's text, length and slice parts "
           "pick its examples.", ""]
    if r.hypotheses:
        out += _finding_rows(r, r.hypotheses, inert_markdown) + [""]
        out += [f"- **{inert_markdown(x.name)}**: {inert_markdown(x.definition)}" for x in r.hypotheses] + [""]
    out += [f"- not tested: **{inert_markdown(u['name'])}**: {inert_markdown(u['why'])}" for u in s["untested"]]
    return out + ([""] if s["untested"] else [])


def _tex(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
                 ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}")):
        s = s.replace(a, b) if a != "\\" else s.replace(a, "\x00")
    return s.replace("\x00", r"\textbackslash{}")


def latex_table(r: WhyReport) -> str:
    """The findings as a LaTeX tabular (booktabs), ready for a course report; the saved slices, when
    the report tested any, in a second one labelled as hypotheses (their own adjustment)."""
    caption = f"% {headline_sentence(r)} {r.tested['slices']} slices tested, Benjamini-Hochberg adjusted."
    out = _tex_comment(caption) + _tabular(r.findings)
    if r.hypotheses:
        s = r.saved
        note = (f"Saved slices: hypotheses, not findings. {s['tested']} of {s['saved']} saved slices tested, chosen "
                f"after looking at the data; {s['correction']}.")
        title = (r"\multicolumn{5}{l}{\emph{Saved slices: hypotheses, not findings (Benjamini-Hochberg within the "
                 f"{s['tested']} saved)}}}} \\\\")
        out += "\n" + _tex_comment(note) + _tabular(r.hypotheses, title)
    return out


def _tabular(found: list, title: str | None = None) -> str:
    lines = [r"\begin{tabular}{lrrrl}", r"\toprule", *([title, r"\midrule"] if title else []),
             r"Slice & $n$ & Inside $-$ outside & Adj.\ $p$ & Share \\", r"\midrule"]
    for x in found:
        lines.append(f"{_tex(x.name)} & {x.n} & {x.effect:+.3f} [{x.lo:+.3f}, {x.hi:+.3f}] & "
                     f"{_tex(format_p(x.p_adjusted))} & {_tex(_pct(x.share))} \\\\")
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}", ""])


def _tex_comment(text: str) -> str:
    return "".join(f"% {line}\n" for line in text.lstrip("% ").split("\n"))
