"""MiniBERT Explorer, the Gradio app's parts (`app.py` at the root starts it).

Plain functions that compute (no Gradio): `compare` (score every variant, majority and
disagreement, figures, attributions), `errors`, `slices`, `models` (wiring over `analysis` and
the checkpoints' configs), `context` (what is loaded once at start-up). `ui` is the thin Blocks
layer that lays out the tabs and wires them; `testing` serves the app for tests and benchmarks.
"""
