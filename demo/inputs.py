"""What users send: input components that leave validation to the handler, the checks the
handlers run, and escaping of user text echoed back.

Why the components are lenient: Gradio checks a Radio's, Dropdown's or CheckboxGroup's value
against its choices before the handler runs, and for a batched event (Compare) it checks the
whole batch at once, so one client sending an unknown value failed every request batched with it
and showed its error to the others. These components skip that check (they render exactly as
their parents: `is_template` makes Gradio use the parent's frontend), and each handler validates
its own request with the functions below, answering a bad one with its own message.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import gradio as gr

from analysis import inert_markdown

# What a user is told when the fault is ours: never the exception's text (it may hold another
# user's data); the traceback goes to the server's log.
SERVER_TROUBLE = "Something went wrong on the server while answering this request; it has been logged. Try again."
MAX_TEXT = 100_000  # what a text field is read of before anything else; the models read far less


class BadInput(ValueError):
    """A request the handler cannot serve; its message is shown to the one user who sent it,
    already escaped for Markdown and HTML."""


class LenientRadio(gr.Radio):
    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return payload


class LenientDropdown(gr.Dropdown):
    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return payload


class LenientCheckboxGroup(gr.CheckboxGroup):
    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return payload


class LenientNumber(gr.Number):
    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return payload


class LenientTextbox(gr.Textbox):
    """Keeps a value's type (Textbox turns a list or number into its repr) so that `text` can
    tell a wrong type from a text."""

    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return payload


def escape_md(text: object) -> str:
    """User text for a Markdown component: HTML-escaped and Markdown-inert (no bold, no links)."""
    return inert_markdown(text)


def as_html(message: str) -> str:
    """A Markdown message (user text in it already escaped by `escape_md`) for an HTML component:
    the Markdown escapes and bold marks go, the HTML escaping stays."""
    return re.sub(r"\\(.)", r"\1", message.replace("**", ""))


def _shown(value: object, limit: int = 60) -> str:
    """A value as it appears in a message: its repr, cut, escaped."""
    r = repr(value)
    return escape_md(r if len(r) <= limit else r[:limit] + "…")


def _listing(allowed: Iterable[object], limit: int = 12) -> str:
    allowed = [str(a) for a in allowed]
    shown = ", ".join(f"“{escape_md(a)}”" for a in allowed[:limit])
    return shown + (f" and {len(allowed) - limit} more" if len(allowed) > limit else "")


def choice(value: object, allowed: Iterable[str], what: str, default: str | None = None) -> str:
    """`value` when it is one of `allowed`; `default` for None or "" when one is given."""
    allowed = list(allowed)
    if value in (None, "") and default is not None:
        return default
    if not isinstance(value, str) or value not in allowed:
        raise BadInput(f"Unknown {what} {_shown(value)}: choose one of {_listing(allowed)}.")
    return value


def names(value: object, allowed: Iterable[str], what: str = "variant") -> list[str]:
    """A non-empty list of distinct names, each one of `allowed`, in the order given."""
    allowed = list(allowed)
    if value is None or value == [] or value == "":
        raise BadInput(f"Select at least one {what}.")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise BadInput(f"The {what}s must be a list of names, not {_shown(value)}.")
    unknown = [v for v in value if not isinstance(v, str) or v not in allowed]
    if unknown:
        raise BadInput(f"Unknown {what}{'s' if len(unknown) > 1 else ''} "
                       f"{', '.join(_shown(u) for u in unknown[:5])}: choose from {_listing(allowed)}.")
    return list(dict.fromkeys(value))


def text(value: object, what: str) -> str:
    """A text field's value: None is empty; a number is read as its digits; anything else that
    is not text is refused. NUL characters go, and at most MAX_TEXT characters are kept."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadInput(f"{what} must be text, not {type(value).__name__} {_shown(value)}.")
    value = str(value)[:MAX_TEXT].replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: JSON can carry one, no tokenizer reads it
        raise BadInput(f"{what} holds a character that is not valid Unicode (at position {exc.start:,}): "
                       "retype or paste it again.") from None
    return value


def whole_number(value: object, what: str, minimum: int = 0, maximum: int = 100_000) -> int | None:
    """An optional whole number (None, "" and NaN mean none)."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        raise BadInput(f"{what} must be a whole number, not {_shown(value)}.")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int of hundreds of digits
        raise BadInput(f"{what} must be a whole number, not {_shown(value)}.") from None
    if not math.isfinite(number) or number != int(number) or not minimum <= number <= maximum:
        raise BadInput(f"{what} must be a whole number from {minimum} to {maximum:,}, not {_shown(value)}.")
    return int(number)
