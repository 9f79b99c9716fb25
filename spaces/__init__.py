"""The Gradio tabs of the tinylm app: one module per tab, each with ``build() -> gr.Blocks``.

Each tab is layout and wiring only; every handler calls one tinylm function. A tab runs alone
with ``python -m spaces.<module>``; ``app.py`` composes them and hands them one shared
per-session ``gr.State`` holding the session's current model.

(This package shadows the Hub's own ``spaces`` helper package, used only for ZeroGPU.)
"""
