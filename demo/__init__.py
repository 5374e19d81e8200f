"""MiniBERT Explorer, the Gradio app's parts (`app.py` at the root starts it).

Plain functions that compute (no Gradio) are the `*_view` modules, one per tab (`compare_view`,
`errors_view`, `slices_view`, `models_view`, `label_errors_view`, `behaviour_view`,
`embedding_map_view`), with `attributions`, `counterfactuals`, `verdict`, `trust_view` and
`uploads` beside them, and `context` (what is loaded once at start-up). `ui` is the page builder
(the page, the theme, the wiring between tabs); `tabs/` holds one Gradio module per tab and what
they share; `app_testing` serves the app for tests and benchmarks.
"""
