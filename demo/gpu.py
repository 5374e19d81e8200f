"""Where the app's model calls run on a Hugging Face Space.

- GPU hardware: `load_context` puts every model on CUDA because `torch.cuda.is_available()`; the
  scoring functions need nothing more.
- ZeroGPU hardware: a GPU is attached to the process only while a function wrapped by the `spaces`
  package's `GPU` decorator runs, so the functions that call the models are wrapped with it. That
  package is preinstalled on Spaces and must be imported before torch touches CUDA, which is why
  `app.py` calls `import_spaces()` before anything imports torch.
- Anywhere else `spaces` is usually absent and the functions are returned unchanged; where it is
  installed but the hardware is not ZeroGPU, its decorator returns the function unchanged itself.
"""
from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TypeVar

F = TypeVar("F", bound=Callable)

# Longest a scoring call may hold a ZeroGPU device: a click scores a handful of sentences on every
# variant (well under a second on a GPU); attributions take one backward pass per variant.
GPU_SECONDS = 60


def import_spaces() -> ModuleType | None:
    """The `spaces` package when it is importable, else None."""
    try:
        import spaces
    except ImportError:
        return None
    return spaces


def on_gpu(fn: F) -> F:
    """`fn` under `spaces.GPU` when the `spaces` package is importable, else `fn` itself."""
    spaces = import_spaces()
    if spaces is None:
        return fn
    return spaces.GPU(fn, duration=GPU_SECONDS)


def in_this_process() -> bool:
    """Whether functions wrapped by `on_gpu` run in this very process (no `spaces` package): only
    then may they be handed what reads the app's live state (ZeroGPU pickles their arguments)."""
    return import_spaces() is None
