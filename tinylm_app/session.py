"""The session's current model, shared by the tabs through one ``gr.State``.

The state holds a ``tinylm.checkpoint.Checkpoint`` (model + tokenizer + info + metrics) or None,
meaning "the default shipped model". Gradio keeps one copy of a State per browser session, so
two visitors never see each other's models; nothing is kept in module-level globals.
"""

import gradio as gr

from tinylm.checkpoint import Checkpoint
from tinylm.pretrained import list_pretrained, load_pretrained

DEFAULT_MODEL = "shakespeare-char-gpt"


def model_state() -> gr.State:
    """A fresh per-session holder for the current model (None = the default shipped model)."""
    return gr.State(None)


def current_model(ckpt: Checkpoint | None) -> Checkpoint:
    """The session's model, loading the default shipped one on first use."""
    if ckpt is not None:
        return ckpt
    available = list_pretrained()
    return load_pretrained(DEFAULT_MODEL if DEFAULT_MODEL in available else available[0])


def launch(demo: gr.Blocks) -> None:
    """Launch one app or tab: 0.0.0.0:7860 on a Space, GRADIO_SERVER_NAME/PORT honoured by Gradio."""
    demo.queue(default_concurrency_limit=4).launch()
