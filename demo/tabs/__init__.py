"""The Gradio layer, one module per tab: each lays out its components, returns them as a typed
object of handles, and wires them to module-level handlers (bound to the data they read with
`shared.bind`), which call the plain functions of the demo.*_view modules. Tabs never import one
another: what they share is in `shared`, and the page builder (demo.ui) wires one tab to another."""
