"""Text rules of an error query (`queries.ErrorQuery`): a whole word or phrase, a regular
expression and an interpretable feature (`why.features`), each a yes/no mask over a task's dev
examples.

A regular expression comes from a user (the app, a saved slice someone shared), so it runs under
caps: at most MAX_PATTERN characters, no backreferences or nested quantifiers (the shapes that
backtrack without end), each example's text cut to MAX_TEXT characters, and the whole dev set
searched within TIME_BUDGET_S (the `regex` package's timeout; the standard `re` has none), past
which the rule is refused with a message instead of holding a worker.
"""
from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import regex

MAX_PATTERN = 200
MAX_WORD = 100
MAX_TEXT = 2000
TIME_BUDGET_S = 1.0

_BACKREF = re.compile(r"\\[1-9]|\(\?P=|\\g<|\\k<")


def check_regex(pattern: str) -> regex.Pattern:
    """The compiled, case-insensitive pattern; ValueError saying why it is refused."""
    if not isinstance(pattern, str):
        raise ValueError(f"a regular expression is text, not {pattern!r}")
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"a regular expression is at most {MAX_PATTERN} characters (got {len(pattern):,})")
    if _BACKREF.search(pattern):
        raise ValueError("backreferences are not allowed in a regular expression here")
    if _nested_repeat(pattern):
        raise ValueError("a repeated group that holds a repeat, such as (a+)+, can take exponential time: "
                         "write it without the nesting")
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.VERSION0)
    except (regex.error, OverflowError, RecursionError) as e:
        raise ValueError(f"not a valid regular expression: {e}") from None


def _nested_repeat(pattern: str) -> bool:
    """Whether a repeated group holds a repeat itself, e.g. (a+)+ or (\\w*x)*: the classic shapes
    that backtrack exponentially. One pass over the pattern (a regex to find them could itself be slow)."""
    stack: list[bool] = []          # per open group: whether it holds a repeat
    closed_repeating = False        # the group just closed held a repeat
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            closed_repeating = False
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class, closed_repeating = True, False
        elif ch == "(":
            stack.append(False)
            closed_repeating = False
        elif ch == ")":
            closed_repeating = stack.pop() if stack else False
            if stack and closed_repeating:
                stack[-1] = True
        elif ch in "*+{?":
            if ch != "?" and closed_repeating:
                return True
            if stack and ch != "?":
                stack[-1] = True
            closed_repeating = False
        else:
            closed_repeating = False
        i += 1
    return False


def _texts(examples: pd.DataFrame) -> list[str]:
    # Both sentences of a pair, one line each, so that a rule can match either.
    s1 = examples["sentence1"].astype(str)
    if "sentence2" in examples and examples["sentence2"].notna().any():
        s1 = s1 + "\n" + examples["sentence2"].fillna("").astype(str)
    return [t[:MAX_TEXT] for t in s1.tolist()]


def regex_mask(examples: pd.DataFrame, pattern: str, budget_s: float = TIME_BUDGET_S) -> np.ndarray:
    """Which examples the pattern matches (in either sentence), within `budget_s` seconds in all."""
    compiled = check_regex(pattern)
    deadline = time.monotonic() + budget_s
    out = np.zeros(len(examples), dtype=bool)
    for i, text in enumerate(_texts(examples)):
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            out[i] = compiled.search(text, timeout=left) is not None
        except TimeoutError:
            raise ValueError(f"the regular expression took more than {budget_s:g} s over the dev set: "
                             "make it simpler") from None
    return out


def word_mask(examples: pd.DataFrame, word: str) -> np.ndarray:
    """Which examples hold `word` (or a phrase) as whole words, case-insensitive."""
    words = word.split()
    if not words or len(word) > MAX_WORD:
        raise ValueError(f"a word rule is 1 to {MAX_WORD} characters of words")
    pattern = re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE)
    return np.array([pattern.search(t) is not None for t in _texts(examples)], dtype=bool)


def feature_names(td: object, tables_dir: object = None, data_dir: object = None) -> list[str]:
    """The features a rule may name ("contrast: yes", ...), beside the registry slices (which the
    slice filter already names)."""
    from .why.features import SLICE_FEATURES, task_features

    return [p.name for p in task_features(td, tables_dir, data_dir).predicates if p.feature not in SLICE_FEATURES]


def feature_mask(td: object, feature: tuple[str, str], tables_dir: object = None, data_dir: object = None) -> np.ndarray:
    """The examples a feature (name, value) holds for; KeyError naming what there is otherwise."""
    from .why.features import task_features

    feats = task_features(td, tables_dir, data_dir)
    for p in feats.predicates:
        if (p.feature, p.value) == tuple(feature):
            return p.mask
    missing = [m for m in feats.missing if m.startswith(f"{feature[0]}:")]
    if missing:
        raise KeyError(f"the feature {feature[0]!r} is not available here ({missing[0]})")
    raise KeyError(f"no feature {feature[0]}: {feature[1]} for {getattr(td, 'task', '?')}")
