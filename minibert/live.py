"""A live model of your own, scored in the app's Compare tab beside the shipped variants.

The protocol (the same three calls as `minibert.predict.Variant`):

    class MyModel:
        name = "my-minbert"                      # optional; else the factory's name
        def sentiment(self, sentences: list[str]) -> array (n, 5)      class probabilities, rows sum to 1
        def paraphrase(self, pairs: list[tuple[str, str]]) -> array (n,)   P(duplicate) in [0, 1]
        def similarity(self, pairs: list[tuple[str, str]]) -> array (n,)   score in [0, 5]

    def make() -> MyModel: ...                  # the factory: no arguments

registered by the person running the app, never by a visitor (it runs their code):

    python app.py --live mypackage.mymodule:make        # repeatable
    MINIBERT_LIVE=mypackage.mymodule:make,other:factory python app.py

`load_live("module:factory")` imports the module, calls the factory and checks the three calls
exist; each answer is checked (shape, range, finite) when it comes, and a bad one is that
variant's error in Compare, not the others'. A live model has no dev-set tables (import its
prediction files for that: `python -m analysis import`) and no attributions.
"""
from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .predict import ByTask
from .settings import settings
from .tasks import task as get_task

METHODS = {"sst": "sentiment", "quora": "paraphrase", "sts": "similarity"}
SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
TOLERANCE = 1e-3


class LiveModelError(RuntimeError):
    """A live model that cannot be used; the message names the spec and what is wrong."""


class LiveVariant(ByTask):
    """A user's object behind the interface the app asks of a variant (`minibert.predictor.Predictor`)."""

    members: tuple = ()
    can_explain = False  # its internals are its own: the app reads only what the protocol declares

    def __init__(self, spec: str, model: object, name: str) -> None:
        self.spec, self.model, self.name = spec, model, name
        self.directory = Path(spec)
        self.config = {"live": spec}
        self.checkpoint_hash = "live-" + hashlib.sha256(spec.encode()).hexdigest()[:16]

    @property
    def recipe(self) -> None:
        return None

    def score_tasks(self, inputs: dict[str, Sequence]) -> dict[str, np.ndarray]:
        return {task: self._checked(task, getattr(self.model, METHODS[task])(list(items)), len(items))
                for task, items in inputs.items()}

    def _checked(self, task: str, output: object, n: int) -> np.ndarray:
        spec = get_task(task)
        where = f"live model {self.name} ({self.spec}).{METHODS[task]}"
        try:
            values = np.asarray(output, dtype=np.float32)
        except (TypeError, ValueError) as error:
            raise LiveModelError(f"{where} returned {type(output).__name__}, not numbers: {error}") from None
        want = (n, len(spec.classes)) if spec.multiclass else (n,)
        if values.shape != want:
            raise LiveModelError(f"{where} returned shape {values.shape} for {n} input(s); expected {want}")
        if not np.isfinite(values).all():
            raise LiveModelError(f"{where} returned a NaN or infinite value")
        low, high = (0.0, 5.0) if spec.regression else (0.0, 1.0)
        if values.min(initial=low) < low - TOLERANCE or values.max(initial=high) > high + TOLERANCE:
            raise LiveModelError(f"{where} returned values outside {low:g}..{high:g}")
        if spec.multiclass and n and np.abs(values.sum(axis=1) - 1).max() > TOLERANCE:
            raise LiveModelError(f"{where} returned class probabilities whose rows do not sum to 1")
        return values


def load_live(spec: str, taken: Sequence[str] = ()) -> LiveVariant:
    """Import `module:factory`, call the factory, check the protocol; LiveModelError says why not."""
    if not isinstance(spec, str) or not SPEC.match(spec.strip()):
        raise LiveModelError(f"live model {spec!r}: expected module:factory, e.g. mypackage.mymodel:make")
    module_name, factory_name = spec.strip().split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # its import runs the user's code: any error is theirs to read
        raise LiveModelError(f"live model {spec}: cannot import {module_name}: {type(error).__name__}: {error}") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise LiveModelError(f"live model {spec}: {module_name} has no callable {factory_name}")
    try:
        model = factory()
    except Exception as error:
        raise LiveModelError(f"live model {spec}: {factory_name}() raised {type(error).__name__}: {error}") from None
    missing = [m for m in METHODS.values() if not callable(getattr(model, m, None))]
    if missing:
        raise LiveModelError(f"live model {spec}: the object {factory_name}() returned has no {', '.join(missing)} "
                             "(it needs sentiment, paraphrase and similarity)")
    name = getattr(model, "name", None)
    name = name if isinstance(name, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", name) else factory_name
    name = name.lower().replace("_", "-")
    if name in set(taken):
        raise LiveModelError(f"live model {spec}: its name {name!r} is taken by a loaded variant; give it a `name`")
    return LiveVariant(spec, model, name)


def live_specs(flags: Sequence[str] | None = None) -> list[str]:
    """The specs asked for: the --live flags, then $MINIBERT_LIVE (comma-separated)."""
    return [*(flags or []), *settings().live]
