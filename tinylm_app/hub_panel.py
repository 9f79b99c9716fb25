"""The "Export / push to the Hub" panel: the session's model as an experiment card, as a
``transformers`` model, or pushed to the user's own Hub repository; and any Hub tokenizer by id.

Layout and wiring only: every handler calls one ``tinylm.hf`` function. The token typed here goes
to ``huggingface_hub`` and nowhere else: it is not kept in the session, not sent back to the page
(the box is cleared after each push), and the push event has no public API endpoint.
Run it alone with ``python -m tinylm_app.hub_panel``.
"""

import html
import tempfile
from pathlib import Path

import gradio as gr

from tinylm_app.session import current_model, launch
from tinylm_app.session import model_state as new_model_state
from tinylm.hf import (
    HubError,
    experiment_zip,
    hub_tokens,
    load_hub_tokenizer,
    push_to_hub,
    transformers_zip,
)

DOWNLOADS = Path(tempfile.gettempdir()) / "tinylm-downloads"
MAX_SHOWN_TOKENS = 500


def _folder() -> Path:
    DOWNLOADS.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(dir=DOWNLOADS))


def make_experiment(ckpt):
    """The experiment card zip: weights, tokenizer, config, loss curve (CSV + PNG), model card."""
    return str(experiment_zip(current_model(ckpt), _folder()))


def make_transformers(ckpt):
    """The model as a Hugging Face directory, zipped (GPT: transformers GPT-2; MLP/bigram: safetensors)."""
    return str(transformers_zip(current_model(ckpt), _folder()))


def push(ckpt, repo_id: str, token: str, private: bool):
    """Push to the Hub; returns (status, "") so the token box is cleared."""
    try:
        url = push_to_hub(current_model(ckpt), (repo_id or "").strip(), token=token or None, private=bool(private))
    except HubError as err:  # the message never contains the token (tinylm.hf scrubs it)
        raise gr.Error(str(err)) from None
    return f"Pushed to [{html.escape(url)}]({html.escape(url)})", ""


def hub_tokenize(repo_id: str, text: str) -> str:
    """The text cut by a Hub tokenizer, as ``piece:id`` chips; offline, a clear error at once."""
    try:
        pieces = hub_tokens(load_hub_tokenizer(repo_id), text or "")
    except HubError as err:
        raise gr.Error(str(err)) from None
    chips = " ".join(f"<code>{html.escape(piece)}:{i}</code>" for i, piece in pieces[:MAX_SHOWN_TOKENS])
    more = f" … ({len(pieces) - MAX_SHOWN_TOKENS} more)" if len(pieces) > MAX_SHOWN_TOKENS else ""
    return f"<p><b>{len(pieces)} tokens</b> with <code>{html.escape(repo_id)}</code></p><p>{chips}{more}</p>"


def build(model_state: gr.State | None = None) -> gr.Blocks:
    """The panel; ``model_state`` is the session's current model, shared with the other tabs."""
    with gr.Blocks(title="tinylm: export") as panel:
        if model_state is None:
            model_state = new_model_state()
        with gr.Accordion("Export / push to the Hub", open=False):
            gr.Markdown("Keep the current model: the **experiment card** is one zip with the weights, tokenizer, "
                        "loss curve and how it was made (upload it again on the Train tab); the **transformers** "
                        "zip loads with `AutoModelForCausalLM.from_pretrained`.")
            with gr.Row(equal_height=True):
                experiment_button = gr.Button("Experiment card (.zip)", size="sm", variant="secondary")
                transformers_button = gr.Button("transformers model (.zip)", size="sm", variant="secondary")
            files = gr.File(label="Download", interactive=False)
            with gr.Row(equal_height=True):
                repo = gr.Textbox(label="Hub repository", placeholder="your-name/tiny-shakespeare", min_width=200)
                token = gr.Textbox(label="Write token (used once, never stored)", type="password", min_width=200)
                private = gr.Checkbox(label="private", value=True, min_width=80)
            push_button = gr.Button("Push to the Hub", size="sm")
            status = gr.Markdown()
        experiment_button.click(make_experiment, model_state, files, api_visibility="private")
        transformers_button.click(make_transformers, model_state, files, api_visibility="private")
        push_button.click(push, [model_state, repo, token, private], [status, token], api_visibility="private",
                          show_progress="minimal")
    return panel


def build_tokenizer_lookup() -> gr.Blocks:
    """For the Tokenizers tab: cut the text with any Hub tokenizer, by its id."""
    with gr.Blocks() as lookup:
        with gr.Accordion("Compare with a Hub tokenizer", open=False):
            with gr.Row(equal_height=True):
                repo = gr.Textbox(label="Hub model id", placeholder="openai-community/gpt2", min_width=200)
                text = gr.Textbox(label="Text", value="Hello, tokenizers!", min_width=200)
                go = gr.Button("Tokenize", size="sm", min_width=80)
            shown = gr.HTML()
        go.click(hub_tokenize, [repo, text], shown, api_visibility="private")
    return lookup


if __name__ == "__main__":
    launch(build())
