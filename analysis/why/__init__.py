"""Why does one variant beat another? Where the gap lives, tested, and written up.

One call, from a loaded `Analysis` (shipped, imported and uploaded variants alike):

    from analysis.why import why_report
    r = why_report(a, "quora", "pcgrad", "cross-encoder")   # or one variant: where it fails
    r.to_json(); r.to_markdown(); r.export_zip("why.zip")    # zip: Markdown, PNG + SVG, LaTeX

    r.headline   metric of each, the paired difference and its 95 % paired-bootstrap interval
                 (the build's interval table when it holds the pair, else the same bootstrap)
    r.flips      A right / B wrong and the reverse; exact McNemar p (SST, Quora); STS: the
                 per-example squared-error difference with its interval (headline["additive"])
    r.confident  the most confident flips each way (where probabilities exist)
    r.same       "practically the same" check: agreement, recorded seed spread
    r.families   whether a recipe family (pair encoding, pooling, heads, ...) shares the gap: per
                 field, the smallest gap between the two families with its paired-bootstrap interval
    r.findings   list[Finding]: name, definition, n, small (n < 100), effect (mean inside minus
                 outside of the per-example quantity r.quantity), lo, hi, p, p_adjusted
                 (Benjamini-Hochberg over every slice tested: r.tested["slices"]), share of the
                 whole gap (None when the gap's interval contains 0), and query: what the Errors
                 tab opens (task, variant, other, and a registry slice or the example ids)
    r.evidence   behavioural tests where the two differ most, the ECE difference, and wins on
                 examples the *other* variants call mislabelled
    r.missing    each part the data does not allow, and why (hard labels, no checkpoint, ...)
    r.hypotheses saved slices (why_report(..., saved=[SavedSlice(name, ErrorQuery, author)]), or
                 saved_slices(rows of the findings store)): Findings tested as the automatic ones
                 but adjusted among themselves only and reported apart (chosen after looking, so
                 hypotheses); r.saved: how many were saved, tested, and why any was not

`python -m analysis why --task TASK A [B] [--json | --markdown] [--export OUT.zip]` prints the
same report (`--saved`: with the saved slices marked shared in the findings database). Modules:
features (predicates), clusters (k-means of the frozen backbone's vectors), feature_table (the
derived table `python -m analysis build` writes them to, which a report reads), search (slices
and their tests), families (recipe families), hypotheses (saved slices), report (the engine),
text (Markdown, LaTeX), export (the zip; matplotlib only there).
"""

from .hypotheses import SavedSlice, saved_slices
from .report import Finding, WhyReport, why_report

__all__ = ["Finding", "SavedSlice", "WhyReport", "saved_slices", "why_report"]
