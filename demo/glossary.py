"""Plain words for the app: the one place that explains each technical term and names each API
value for people. Every tab draws from here (no copies of these texts elsewhere).

    explain("ece", "umap")   -> Markdown, a line per term: "- **ECE**: expected calibration error: ..."
    info("wilson")           -> the one-line text alone, for a component's `info=`
    label("all_wrong")       -> "wrong for every variant"   (URL and API values stay "all_wrong")
    choices(["macro_f1"])    -> [("macro F1", "macro_f1")]  a dropdown showing labels, sending values
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

# The texts are data (demo/glossary.json): terms, key -> [name shown, one line of explanation];
# labels, API value -> what people read (a term's name is its label too). Values absent are shown as
# they are.
_WORDS = json.loads(Path(__file__).with_name("glossary.json").read_text(encoding="utf-8"))
TERMS: dict[str, tuple[str, str]] = {key: (name, text) for key, (name, text) in _WORDS["terms"].items()}
LABELS: dict[str, str] = {**{key: name for key, (name, _) in TERMS.items()}, **_WORDS["labels"]}


def label(value: object) -> str:
    """What people read for an API value (a metric, a slice): "macro_f1" -> "macro F1"."""
    return LABELS.get(str(value), str(value))


def choices(values: Iterable[str | tuple[str, str]], name: Callable[[str], str] = label) -> list[tuple[str, str]]:
    """Dropdown choices that show `name(value)` and send the value (so URLs and the API keep it);
    a (label, value) pair among them stays as it is."""
    return [v if isinstance(v, tuple) else (name(v), v) for v in values]


def info(key: str) -> str:
    """The term's one line, for a component's `info=`."""
    name, text = TERMS[key]
    return f"{name}: {text}"


def explain(*keys: str) -> str:
    """A Markdown list, one line per term in the order given (repeats dropped)."""
    return "\n".join(f"- **{TERMS[k][0]}**: {TERMS[k][1]}" for k in dict.fromkeys(keys))
