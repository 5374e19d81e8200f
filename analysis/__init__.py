"""analysis: precomputed dev-set predictions of every variant, and pure pandas queries over them.

Nothing here runs a model except `python -m analysis build`; everything else reads the tables
under `analysis/tables/` and returns DataFrames / dicts (no UI code).

Building (once per checkpoint change; on the GPU machine for the full dev sets)
------------------------------------------------------------------------------
    python -m analysis build [--checkpoints DIR] [--data-dir DIR] [--tables DIR] [--force]
    python -m analysis status            # sources, problems, overall scores

writes `analysis/tables/`: `predictions/<variant>/<task>.parquet` (id, pred, scores; no text,
no gold), `examples/<task>.parquet` (the dev set: id, sentence1, sentence2 for pairs, gold, and
the features words1, words2, words, negation, overlap from `analysis.examples`; the one piece of
the data we commit, so a Space without a data directory can still show errors), `manifest.json`
(checkpoint name + hash and data file + sha256 of every table) and `summary.json` (numbers
only). Only tables whose checkpoint or data changed are rebuilt, unless --force.

Importing a model's own predictions (predictions only: no checkpoint, never rescored)
-------------------------------------------------------------------------------------
    python -m analysis import --name NAME sst-dev-output.csv para-dev-output.csv sts-dev-output.csv

reads CS224N dev prediction files (`analysis.imported`: format, optional probability columns)
into `predictions/NAME/<task>.parquet`; `build` keeps them. `a.imported()` lists such variants,
`a.has_probabilities(task, variant)` says whether one carries scores (else: no calibration, ECE
or ROC AUC; left out of ensemble selection and label-error evidence).

Loading
-------
    a = analysis.load(tables_dir=None, data_dir=None, checkpoints=None, include_stale=False)

    tables_dir   default: the package's `tables/` folder.
    data_dir     default: minibert.data.resolve_data_dir() ($MINIBERT_DATA, else ./data). Text,
                 gold and features come from the shipped examples/<task>.parquet. When the
                 data directory holds the task's dev file, its sha256 must be the one the
                 predictions were built from: a different file is reported and never used (the
                 shipped table, which matches the predictions, is used instead); a matching one
                 stands in for a missing shipped table. `a.sources[task]` says which was used.
    checkpoints  what staleness is checked against: None = $MINIBERT_CHECKPOINTS or ./checkpoints
                 when it exists; a folder; a {variant: checkpoint_hash} mapping (the app can pass
                 {v.name: v.checkpoint_hash for v in variants.values()}); False = no check.
    include_stale  stale tables (checkpoint changed since the build) are left out unless True.

`load` never raises for bad input. A missing table, a table from another checkpoint, a data file
other than the one the predictions were built from, ids that do not match: each adds one line to
`a.problems` naming what and where (and what to run), and only the affected table or task is
left out. An absent data directory is a note: the shipped examples tables are enough.

Analysis (the object `load` returns)
    a.problems: list[str]         clear messages about what is missing / stale / mismatched
    a.notes: list[str]            information (which text source, bad rows skipped, ...)
    a.sources: dict[task, str]    "examples table: <path>[ (same data as <data file>)]" or
                                  "data directory: <data file>"
    a.stale: dict[table path, str]
    a.summary: dict | None        summary.json (for when no data is at hand at all)
    a.has(task) -> bool;  a.variants(task=None) -> list[str]
    a.frame(task) -> DataFrame    the long, joined table: one row per (variant, example):
        variant (categorical), ex (example index), id, pred, scores (SST p0..p4; Quora prob;
        STS: pred is the 0-5 score), gold, correct, error (SST pred - gold classes; Quora
        prob - gold; STS pred - gold), abs_error, conf (probability of the predicted class;
        NaN for STS), sentence1, sentence2 (pairs), words1, words2 (pairs), words (both
        sentences), negation, overlap (pairs: Jaccard of lowercase word sets).
        Quora pred/correct use threshold 0.5 (functions below take any threshold).
        STS "correct" means |error| <= 1.0 (schema.STS_TOLERANCE).
    a.examples(task) -> DataFrame one row per example: id, sentence1, sentence2, gold,
        the feature columns and one "slice:<name>" column per slice.
    a.wide(task, column="pred") -> DataFrame  id, gold, one column per variant ("pred",
        "correct", or a score column).

Metrics (analysis.dev_metrics; formulas in minibert.metrics, checked by hand in the tests)
    metrics_table(a, task, threshold=0.5) -> DataFrame   one row per variant, scalar metrics:
        SST n, accuracy, macro_f1, off_by_one_accuracy, ece;
        Quora n, accuracy, precision, recall, f1, roc_auc, tn, fp, fn, tp, ece, threshold;
        STS n, pearson, spearman, mse.
    metrics(a, task, variant, threshold=0.5) -> dict     those scalars plus "confusion"
        (DataFrame), "per_class" (SST), "reliability" (SST, Quora), "residuals" (STS), "note" (Quora).
    confusion(a, task, variant, threshold=0.5) -> DataFrame   gold rows x predicted columns (ints):
        SST 5x5, Quora 2x2 at threshold, STS 6x6 of rounded scores.
    per_class(a, variant) -> DataFrame                     SST precision / recall / f1 / support.
    calibration(a, task, variant, n_bins=10, threshold=0.5) -> (ece, bins DataFrame)
    residuals(a, variant) -> DataFrame                     STS id, gold, pred, residual.
    overall(a) -> DataFrame   sst_accuracy, quora_accuracy, sts_pearson and the CS224N overall
        score (SST acc + Quora acc + (STS Pearson + 1) / 2) / 3, per variant.

Queries (analysis.queries)
    errors(a, task, variant=None, *, only_errors=None, min_error=None, direction=None, cell=None,
           search=None, min_words=None, max_words=None, other=None, relation=None, slice=None,
           sort="auto", ascending=False, threshold=0.5, limit=None) -> DataFrame
        rows of a.frame(task); see its docstring. Examples:
        errors(a, "quora", "v1", direction="fp")                       false positives
        errors(a, "sst", "v1", min_error=2, direction="under")         2+ classes too negative
        errors(a, "sts", "v1", min_error=1.5, sort="error")            |error| > 1.5
        errors(a, "sst", "v1", cell=(4, 0))                            a confusion-matrix cell
        errors(a, "quora", "v1", other="v2", relation="a_right_b_wrong")
        errors(a, "sst", None, search="not", max_words=10)             every variant
    errors(a, ErrorQuery("sst", "v1", kind="off_by_2"), limit=50)     the same as one stored value:
        ErrorQuery(task, variant, kind, cell, other, relation, slice, search, min_words, max_words,
        threshold), frozen and checked, kind a key of ERROR_KINDS[task]; to_dict() / from_dict().
    example_across_variants(a, task, example_id, threshold=0.5) -> DataFrame  one row per variant.

Slices (analysis.slices; all defined in that one module, add one with @register)
    slice_names(task) -> list[str]   length, negation, overlap (pairs), gold, all_wrong, agreement
    slice_labels(a, task, name) -> Series (categorical, one bucket per example)
    slice_metrics(a, task, name, variants=None, threshold=0.5) -> DataFrame
        one row per (bucket, variant), bucket "(all)" first: slice, bucket, variant, n, metrics.

Text rules and saved slices (analysis.text_rules, analysis.custom_slice)
    ErrorQuery(..., word="not", regex=r"n[o']t", feature=("contrast", "yes"), within=other_query)
        a whole word, a regular expression (capped: at most MAX_PATTERN characters, no nested
        repeats or backreferences, the dev set searched within a time budget), a feature of
        analysis.why.features (feature_names(td, tables_dir, data_dir) lists them), and the
        examples another query lists; each a ValueError with its reason when refused.
    with_slice(a, task, name, member, variants=None) -> Analysis with one more slice (buckets
        "in the slice", "outside it") and its intervals bootstrapped now, for slice_metrics and
        the Slices tab.

Intervals (analysis.uncertainty; written at build time to `intervals.parquet`)
    a.intervals -> Intervals | None   None when the table is missing or was computed from other
        prediction tables (then a.problems says so).
    a.intervals.value(task, metric, variant, slice="(all)", bucket="(all)") -> (lo, hi) | None
    a.intervals.delta(task, metric, variant, reference, slice="(all)", bucket="(all)") -> (lo, hi) | None
        95 % intervals: Wilson for a proportion, percentile bootstrap over the examples (fixed
        seed) otherwise; paired bootstrap for variant minus reference. Task "overall" holds the
        CS224N overall score. summary.json carries the whole-dev ones as
        variants[v]["tasks"][t]["ci"] = {metric: [lo, hi]} and variants[v]["overall_ci"].

Derived analyses (analysis.derived: the interface; analysis.registry: the list, in build order)
    DERIVED -> (label errors, behavioural tests, embedding map, why features), each a DerivedAnalysis
    (d.tab False: no tab of its own; the why features are read by the why report):
    d.read(a) -> Reading (data, provenance, problems; data None when there is nothing to show),
    d.tasks(reading), d.frame(reading, task), d.no_tables(reading); the build runs d.run(...).
    derived_analysis(name) -> the registered one.
    how_far(task, gold, suggested) -> array | None   SST: "one class apart", "two classes apart"
        or "opposite polarity" per label-error suggestion.
    read_reading(task, table=None) -> LabelReading | None   a person's verdicts on the top flagged
        label errors (analysis/label_error_reading.json); .precision(*verdicts) -> (k, n, Wilson 95 %).
    file_formats() -> list[dict]   each task's dev prediction file (header, line, probabilities).

Why one variant beats another (analysis.why): why_report(a, task, A, B=None, saved=()) -> WhyReport;
    saved_slices(rows of the findings store) -> ([SavedSlice], problems): people's saved
    slices, which the report tests apart from its own search, as hypotheses.

Quora numbers are optimistic (the backbone saw Quora duplicates in pre-training; our Quora train
split is partial): show `schema.QUORA_NOTE` next to them.
"""

from .assemble import added_bytes
from .behaviour import MFT, TESTS
from .core import Analysis, TaskData
from .custom_slice import with_slice
from .derived import DerivedAnalysis, Reading
from .dev_metrics import calibration, confusion, metrics, metrics_table, overall, per_class, residuals
from .embedding_map import in_region
from .formatting import duration, inert_markdown, interval, metric, p_value, signed
from .imported import (
    MAX_FILE_BYTES,
    PredictionFile,
    PredictionFileError,
    check_name,
    file_formats,
    imported_sources,
    imported_variants,
    read_prediction_files,
    with_predictions,
)
from .label_errors import (
    AMBIGUOUS,
    LABEL_RIGHT,
    MISLABELLED,
    ONE_APART,
    OPPOSITE,
    READING_FILE,
    TWO_APART,
    LabelReading,
    how_far,
    read_reading,
)
from .load import current_checkpoint_hashes, load
from .queries import ERROR_KINDS, ErrorQuery, errors, example_across_variants, grid_size
from .registry import DERIVED, derived_analysis
from .schema import MANIFEST_NAME, QUORA_NOTE, STS_TOLERANCE, SUMMARY_NAME, TASKS
from .slices import SLICES, register, slice_labels, slice_metrics, slice_names
from .tables import jsonable, read_manifest
from .text_rules import MAX_PATTERN, MAX_WORD, check_regex, feature_names
from .trust import muted_heads, muted_reason
from .uncertainty import ALL, SMALL_N, excludes_zero, wilson
from .uncertainty import METRICS as INTERVAL_METRICS
from .uncertainty import PROPORTIONS as PROPORTION_METRICS
from .why import SavedSlice, WhyReport, saved_slices, why_report
from .why.export import export_bytes

__all__ = [
    "DERIVED",
    "DerivedAnalysis",
    "Reading",
    "derived_analysis",
    "Analysis",
    "TaskData",
    "load",
    "current_checkpoint_hashes",
    "metrics",
    "metrics_table",
    "confusion",
    "per_class",
    "calibration",
    "residuals",
    "overall",
    "errors",
    "ErrorQuery",
    "ERROR_KINDS",
    "grid_size",
    "example_across_variants",
    "slice_names",
    "slice_labels",
    "slice_metrics",
    "register",
    "SLICES",
    "QUORA_NOTE",
    "STS_TOLERANCE",
    "TASKS",
    "MANIFEST_NAME",
    "SUMMARY_NAME",
    # how numbers and user text read (the README table and the app)
    "duration",
    "interval",
    "metric",
    "signed",
    "p_value",
    "inert_markdown",
    # the 95 % intervals
    "ALL",
    "SMALL_N",
    "INTERVAL_METRICS",
    "PROPORTION_METRICS",
    "excludes_zero",
    "wilson",
    # imported and uploaded predictions
    "MAX_FILE_BYTES",
    "PredictionFile",
    "PredictionFileError",
    "check_name",
    "file_formats",
    "imported_sources",
    "imported_variants",
    "read_prediction_files",
    "with_predictions",
    "with_slice",
    "check_regex",
    "feature_names",
    "MAX_PATTERN",
    "MAX_WORD",
    "added_bytes",
    "read_manifest",
    "jsonable",
    # the derived analyses' pieces the views show, and which heads are trusted
    "MFT",
    "TESTS",
    "in_region",
    "muted_heads",
    "muted_reason",
    # label errors: how far a suggestion lies from gold, and a person's reading of the top
    "how_far",
    "read_reading",
    "LabelReading",
    "MISLABELLED",
    "AMBIGUOUS",
    "LABEL_RIGHT",
    "ONE_APART",
    "TWO_APART",
    "OPPOSITE",
    "READING_FILE",
    # the "why" report
    "WhyReport",
    "why_report",
    "SavedSlice",
    "saved_slices",
    "export_bytes",
]
