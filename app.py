"""tinylm, the app: see and touch how a language model works (a Hugging Face Space).

This file only composes the tabs in ``tinylm_app/`` (``spaces/`` holds each tab as a Space of its
own). It creates one per-session model state and hands it to every tab, so the model you train in Train is the one Predict reads. Nothing heavy loads at
import: GPT-2's vocabulary, datasets and models load on first use.

Run it with ``python app.py`` and open http://127.0.0.1:7860 (GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT are honoured; on a Space it listens on 0.0.0.0).
"""

import os

if os.environ.get("SPACE_ID"):  # on a Space, requests reach the app from outside its container
    os.environ.setdefault("GRADIO_SERVER_NAME", "0.0.0.0")  # set before Gradio reads it at import

import tinylm_app  # noqa: F401  (before gradio: `import spaces` must mean the Hub's package; see its docstring)

import gradio as gr  # noqa: E402

from tinylm_app import chat_tab, hub_panel, inspect_tab, predict_tab, tokenizers_tab, train_tab, weights_tab
from tinylm_app.session import launch, model_state

INTRO = """# tinylm
A small language model you can see and touch, one step at a time. Every model here is tiny and
trains on a CPU in seconds to minutes, so you can watch each idea work.

- **Tokenizers**: how text becomes the ids a model reads; four tokenizers side by side.
- **Train**: pick a dataset and a model (bigram, MLP or GPT) and watch the loss fall as it learns.
- **Predict**: give the model a context and see the probability of every next token, then generate.
- **Weights**: edit the model's real weights by hand, draw connections, write sequences into its
  memory without training, and watch the next-token distribution move.
- **Inspect**: what the model gets wrong, how surprised it is by each token, its embeddings, attention,
  and the loss surface around its weights.
- **Chat**: talk to a tiny chat model, see the template and which tokens it is trained on, and fine-tune
  it on your own conversations.
"""

with gr.Blocks(title="tinylm") as demo:
    gr.Markdown(INTRO)
    state = model_state()  # one per browser session: the model Train makes and Predict uses
    with gr.Tab("Tokenizers"):
        tokenizers_tab.build(state)
        hub_panel.build_tokenizer_lookup()
    with gr.Tab("Train"):
        train_tab.build(state)
        hub_panel.build(state)
    with gr.Tab("Predict"):
        predict_tab.build(state)
    with gr.Tab("Weights"):
        weights_tab.build(state)
    with gr.Tab("Inspect"):
        inspect_tab.build(state)
    with gr.Tab("Chat"):
        chat_tab.build()  # its chat models are its own, not the shared state

if __name__ == "__main__":
    launch(demo)
