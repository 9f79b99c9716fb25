"""The Inspect tab: look inside the session's current model, on its own validation text.

Layout and wiring only. ``tinylm.inspect`` computes every number (scores, confusion matrix,
error table, embeddings and their PCA, attention maps, hidden activations, the loss surface) and
``tinylm.replay`` the training replay and weight changes of a model trained in the Train tab;
this file turns them into plotly figures and HTML, with a few sentences beside each view for
someone seeing it for the first time. Run it alone with ``python -m tinylm_app.inspect_tab``.
"""

import html

import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from tinylm_app.session import current_model, launch
from tinylm_app.session import model_state as new_model_state
from tinylm import inspect as ti
from tinylm import replay as tr
from tinylm.edit import dataset_texts

CONFUSION_TOKENS = 20  # rows and columns of the confusion matrix: the most frequent next tokens
ERROR_ROWS = 15  # rows of the top-error table
COLOURED_TOKENS = 600  # tokens of validation text shown coloured by loss (the HTML grows with each)
LOSS_FOR_RED = 5.0  # nats at which a token is fully red
SURFACE_STEPS = 11  # grid points a side of the loss surface (121 evaluations)
SURFACE_TOKENS = 512  # validation tokens each surface point is evaluated on
PROMPT_CHARS = 48  # characters of validation text in the default prompt
REPLAY_TOKENS = 80  # tokens of each replayed sample (the same seed at every step)
REPLAY_TOP = 10  # bars of the replayed next-token distribution
HEATMAP_CELLS = 256  # rows and columns of a weight-change heatmap at most (the rest is cut off, and said so)
NO_SNAPSHOTS = ("This model has no training snapshots: the shipped models were trained elsewhere. Train a model "
                "in the **Train** tab (a few seconds is enough) and come back to watch it learn, step by step.")

HOW = """## Inspect: see inside the model
Everything here is computed now, from the session's current model (the shipped one, or the one
you trained or edited) and the validation text of the data it learned from: text it never trained on.
"""
EXPLAIN = {
    "errors": """**Which tokens does it get wrong?** Each row is a token that really came next in the
validation text; each column is the model's first choice there. A perfect model puts everything on
the diagonal. The table lists the tokens with the highest average loss and what the model guessed
instead: often a token that is common in the same place.""",
    "surprisal": """**How surprised is it by each token?** Every token is coloured by its loss
(−log of the probability the model gave it): white means the model expected it, red means it was a
surprise. Hover a token to see what the model would have predicted there. The loss is usually high
at the start of a word or a name and low in the middle, where the rest is easy to guess.""",
    "embeddings": """**Where do the tokens live?** The model turns every token into a vector (a row
of the embedding table). These vectors have many numbers, so we show them along the two directions
in which they differ most (PCA). Tokens used in similar places end up close together, for example
vowels near vowels. Type a token to see its row, the numbers the model actually reads, and the
tokens whose rows point the same way.""",
    "attention": """**Where does each position look?** In a GPT every position asks the earlier
ones for information. Each square is one head of one layer: row *i* shows how much the token at
position *i* reads each earlier token (each row adds up to 1, and nothing above the diagonal: it can
never look at the future). Some heads look at the previous token, others at the start of the word.""",
    "activations": """**What do the hidden units do?** The MLP's tanh units (or the GPT's feed-forward
units) for each position of the prompt: the heatmap shows the first units, the histogram all of them.
Units that sit at −1 or +1 for every input are saturated: they barely learn any more.""",
    "surface": """**What does the loss look like around the trained weights?** We pick two random
directions in weight space (each scaled to the size of the weights they move, as in Li et al. 2018)
and measure the loss on a grid of points around the trained model, which sits at the centre (the
black dot). A bowl means a stable minimum; the steepness shows how sensitive the model is to its weights.""",
    "replay": """**Watch it learn.** While a model trains in the Train tab, a copy of its weights is kept
every few steps (step 0 is the untrained model). Move the slider to go back to any of them: the sample
(always the same prompt and the same random seed), the likeliest next tokens after the prompt and the
embeddings are all recomputed from the weights at that step. Early on the sample is noise and the bars are
flat; the model first learns which tokens are common, then which follow which.""",
    "weights": """**What did training change?** Each cell is one weight of the chosen matrix: how much it
moved between the two snapshots (blue down, red up, white unchanged). From step 0 this is everything training
did to it. Rows that barely change often belong to tokens that are rare in the training text, since a
token's embedding row only moves when that token is seen.""",
}
CSS = """
.surprisal { white-space: pre-wrap; font-family: ui-monospace, Menlo, monospace; font-size: 14px;
             line-height: 1.7; max-height: 28em; overflow-y: auto; padding: 8px 10px;
             border-radius: 8px; border: 1px solid var(--border-color-primary); }
.surprisal span { border-radius: 3px; cursor: help; color: #111; }
.legend { font-size: 13px; color: var(--body-text-color-subdued); margin-top: 4px; }
"""


def _show(text: str) -> str:
    """A token as a readable label: spaces and line breaks made visible."""
    return text.replace("\n", "⏎").replace(" ", "␣") or "∅"


def _val_ids(ckpt) -> list[int] | None:
    texts = dataset_texts(ckpt.info.get("dataset"))
    if texts is None or not texts[1]:
        return None
    return ckpt.tokenizer.encode(texts[1][: ti.MAX_SCORED_TOKENS * 8])  # plenty of characters for 10k tokens


def _card(ckpt, ids) -> str:
    kind = "GPT" if hasattr(ckpt.model, "transformer") else "MLP" if hasattr(ckpt.model, "wte") else "bigram"
    data = f"validation text of *{ckpt.info['dataset']}*" if ckpt.info.get("dataset") else "no known dataset"
    scored = f", first {min(len(ids) - 1, ti.MAX_SCORED_TOKENS):,} tokens scored" if ids else ""
    return f"**{ckpt.name}** · {kind} · vocabulary {ckpt.tokenizer.vocab_size:,} · {data}{scored}"


# ---------------------------------------------------------------------------------------------
# Figures: drawing only


def confusion_figure(conf: ti.Confusion, tokenizer) -> go.Figure:
    labels = [_show(tokenizer.token_text(t)) for t in conf.tokens]
    share = conf.matrix / np.maximum(conf.counts[:, None], 1)  # each row as shares of that token's count
    fig = go.Figure(go.Heatmap(
        z=share, x=labels + ["other"], y=labels, colorscale="Blues", zmin=0, zmax=1, customdata=conf.matrix,
        hovertemplate="next was %{y}, predicted %{x}: %{customdata} times (%{z:.0%})<extra></extra>",
        colorbar=dict(title="share", tickformat=".0%")))
    fig.update_layout(height=520, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="model's first choice",
                      yaxis_title="token that came next", yaxis_autorange="reversed",
                      xaxis=dict(type="category", tickangle=0), yaxis=dict(type="category"))
    return fig


def errors_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "token": _show(r["token"]), "times it came next": r["count"], "mean loss": round(r["mean_loss"], 3),
        "first choice right": f"{r['accuracy']:.0%}",
        "most common wrong guess": "" if r["predicted_instead"] is None else _show(r["predicted_instead"]),
        "guessed instead (times)": r["times"]} for r in rows])


def surprisal_html(spans: list[dict]) -> str:
    parts = []
    for s in spans:
        if s["loss"] is None:
            parts.append(f"<span title='(no prediction for the first token)'>{html.escape(s['text'])}</span>")
            continue
        alpha = min(s["loss"] / LOSS_FOR_RED, 1.0)
        guesses = ", ".join(f"{_show(t)} {p:.0%}" for t, p in s["top"])
        tip = html.escape(f"{_show(s['text'])}: loss {s['loss']:.2f} · predicted: {guesses}", quote=True)
        parts.append(f"<span style='background: rgba(239, 68, 68, {alpha:.2f})' title='{tip}'>"
                     f"{html.escape(s['text'])}</span>")
    mean = np.mean([s["loss"] for s in spans if s["loss"] is not None]) if len(spans) > 1 else float("nan")
    return (f"<div class='surprisal'>{''.join(parts)}</div><div class='legend'>white = expected, red = "
            f"loss ≥ {LOSS_FOR_RED:g} nats · mean loss of these {len(spans) - 1} tokens {mean:.3f}</div>")


def embedding_figure(proj: ti.Projection, tokenizer) -> go.Figure:
    labels = [_show(tokenizer.token_text(i)) for i in range(len(proj.coords))]
    many = len(labels) > 300  # beyond that, labels only on hover
    fig = go.Figure(go.Scattergl(
        x=proj.coords[:, 0], y=proj.coords[:, 1], text=labels, mode="markers" if many else "markers+text",
        textposition="top center", marker=dict(size=7, color="#6366f1", opacity=0.75),
        hovertemplate="%{text}<extra></extra>"))
    fig.update_layout(height=520, margin=dict(l=10, r=10, t=30, b=10),
                      xaxis_title=f"direction 1 ({proj.explained[0]:.0%} of the spread)",
                      yaxis_title=f"direction 2 ({proj.explained[1]:.0%} of the spread)")
    return fig


def attention_figure(att: torch.Tensor, labels: list[str]) -> go.Figure:
    n_layer, n_head, T, _ = att.shape
    fig = make_subplots(rows=n_layer, cols=n_head, horizontal_spacing=0.03, vertical_spacing=0.05,
                        subplot_titles=[f"layer {l} · head {h}" for l in range(n_layer) for h in range(n_head)])
    ticks = [f"{i}:{_show(t)}" for i, t in enumerate(labels)]
    for l in range(n_layer):
        for h in range(n_head):
            fig.add_trace(go.Heatmap(z=att[l, h].numpy(), x=ticks, y=ticks, coloraxis="coloraxis",
                                     hovertemplate="%{y} reads %{x}: %{z:.2f}<extra></extra>"), l + 1, h + 1)
    fig.update_layout(height=max(320, 260 * n_layer), margin=dict(l=10, r=10, t=40, b=10),
                      coloraxis=dict(colorscale="Viridis", cmin=0, cmax=1))
    fig.update_xaxes(showticklabels=T <= 24, type="category", tickfont_size=9)
    fig.update_yaxes(autorange="reversed", showticklabels=T <= 24, type="category", tickfont_size=9)
    return fig


def activation_figure(acts: list[torch.Tensor], labels: list[str], units: int = 64) -> go.Figure:
    n = len(acts)
    fig = make_subplots(rows=n, cols=2, column_widths=[0.65, 0.35], horizontal_spacing=0.08,
                        subplot_titles=[t for l in range(n) for t in (f"layer {l}: first {min(units, acts[l].size(1))} "
                                                                      f"units x position", f"layer {l}: all units")])
    ticks = [f"{i}:{_show(t)}" for i, t in enumerate(labels)]
    for l, a in enumerate(acts):
        fig.add_trace(go.Heatmap(z=a[:, :units].numpy(), y=ticks, colorscale="RdBu", zmid=0, showscale=False,
                                 hovertemplate="%{y}, unit %{x}: %{z:.2f}<extra></extra>"), l + 1, 1)
        fig.add_trace(go.Histogram(x=a.flatten().numpy(), nbinsx=50, marker_color="#6366f1", showlegend=False), l + 1, 2)
    fig.update_yaxes(autorange="reversed", type="category", showticklabels=len(labels) <= 24, col=1)
    fig.update_layout(height=max(300, 260 * n), margin=dict(l=10, r=10, t=40, b=10))
    return fig


def surface_figure(surface: ti.LossSurface) -> go.Figure:
    z = surface.losses.T  # plotly's z[row=y][col=x]: rows are betas
    fig = go.Figure([
        go.Surface(x=surface.alphas, y=surface.betas, z=z, colorscale="Viridis", colorbar=dict(title="loss"),
                   hovertemplate="a %{x:.2f}, b %{y:.2f}: loss %{z:.3f}<extra></extra>"),
        go.Scatter3d(x=[0], y=[0], z=[surface.center_loss], mode="markers+text", text=["trained model"],
                     marker=dict(size=6, color="black"), hovertemplate="trained: loss %{z:.3f}<extra></extra>"),
    ])
    fig.update_layout(height=560, margin=dict(l=0, r=0, t=30, b=0), scene=dict(
        xaxis_title="direction 1", yaxis_title="direction 2", zaxis_title="val loss"))
    return fig


# ---------------------------------------------------------------------------------------------
# Handlers: one tinylm call each, then drawing


def inspect_model(ckpt):
    """The text views at once: card, confusion, errors, coloured text, embeddings, default prompt."""
    ckpt = current_model(ckpt)
    tok, ids = ckpt.tokenizer, _val_ids(ckpt)
    proj = ti.pca_2d(ti.embedding_matrix(ckpt.model))
    if ids is None or len(ids) < 2:
        note = "This model's validation text is not known (it was trained on uploaded or pasted text)."
        return (_card(ckpt, None), None, pd.DataFrame(), f"<p>{note}</p>",
                embedding_figure(proj, tok), "")
    scores = ti.score_tokens(ckpt.model, ids)
    conf = ti.confusion_matrix(scores, CONFUSION_TOKENS)
    errors = ti.token_errors(scores, tok, top=ERROR_ROWS)
    spans = ti.surprisal_spans(scores, tok, max_spans=COLOURED_TOKENS)
    prompt = tok.decode(ids[: min(ckpt.model.block_size, PROMPT_CHARS)])
    return (_card(ckpt, ids), confusion_figure(conf, tok), errors_frame(errors), surprisal_html(spans),
            embedding_figure(proj, tok), prompt)


def embedding_row(token: str, ckpt):
    """A token's row of the embedding table and its nearest tokens."""
    ckpt = current_model(ckpt)
    tok = ckpt.tokenizer
    token_id = tok.token_to_id(token) if token else None
    if token_id is None:
        return pd.DataFrame(), f"`{token}` is not one token of this model's vocabulary." if token else ""
    vectors = ti.embedding_matrix(ckpt.model)
    row = vectors[token_id].tolist()
    frame = pd.DataFrame([[round(v, 3) for v in row]], columns=[str(i) for i in range(len(row))])
    near = ", ".join(f"`{_show(tok.token_text(i))}` {s:.2f}" for i, s in ti.nearest_tokens(vectors, token_id))
    return frame, (f"Row {token_id} of the embedding table, {len(row)} numbers. "
                   f"Tokens whose rows point the same way (cosine similarity): {near}")


def prompt_views(prompt: str, ckpt):
    """Attention maps (GPT) and hidden activations for a prompt."""
    ckpt = current_model(ckpt)
    ids = ckpt.tokenizer.encode(prompt or "")
    if not ids:
        return None, None, "Type a prompt."
    if hasattr(ckpt.model, "transformer"):
        ids = ids[-ckpt.model.block_size:]
    labels = [ckpt.tokenizer.token_text(i) for i in ids]
    note = f"{len(ids)} tokens."
    att = None
    if hasattr(ckpt.model, "transformer"):
        att = attention_figure(ti.attention_maps(ckpt.model, ids), labels)
    else:
        note += " Attention exists only in the GPT: the bigram and the MLP read a fixed window of tokens."
    acts = ti.hidden_activations(ckpt.model, ids)
    if not acts:
        note += " The bigram has no hidden units: it is one table."
    return att, activation_figure(acts, labels) if acts else None, note


def loss_surface_view(ckpt):
    """The loss surface, one grid row at a time (a generator: Stop cancels it)."""
    ckpt = current_model(ckpt)
    ids = _val_ids(ckpt)
    if ids is None or len(ids) < 2:
        yield None, "This model's validation text is not known, so there is no loss to map."
        return
    for surface in ti.iter_loss_surface(ckpt.model, ids, steps=SURFACE_STEPS, max_tokens=SURFACE_TOKENS):
        if surface.done < surface.total:
            yield gr.skip(), f"Evaluating the loss at {surface.done}/{surface.total} points…"
    yield surface_figure(surface), (
        f"{surface.total} points on {min(len(ids) - 1, SURFACE_TOKENS)} validation tokens. Trained model: loss "
        f"{surface.center_loss:.3f}; lowest on the grid {np.nanmin(surface.losses):.3f}, highest "
        f"{np.nanmax(surface.losses):.3f}.")


def _snapshot_label(snap: tr.Snapshot) -> str:
    return f"step {snap.step}"


def _snapshot(ckpt, label_or_index):
    """A snapshot of the checkpoint by slider index or dropdown label ("step 120")."""
    snaps = ckpt.snapshots
    if isinstance(label_or_index, str):
        return next((s for s in snaps if _snapshot_label(s) == label_or_index), snaps[-1])
    return snaps[min(max(int(label_or_index or 0), 0), len(snaps) - 1)]


def replay_setup(ckpt):
    """When the model changes: the slider over its snapshots, the replay prompt, the weight-change menus."""
    ckpt = current_model(ckpt)
    snaps = ckpt.snapshots
    if not snaps:
        hidden = gr.update(visible=False)
        return NO_SNAPSHOTS, gr.update(visible=False, maximum=1, value=0), "", hidden, hidden, hidden
    ids = _val_ids(ckpt)
    prompt = ckpt.tokenizer.decode(ids[: min(ckpt.model.block_size, PROMPT_CHARS)]) if ids else ""
    labels = [_snapshot_label(s) for s in snaps]
    names = list(snaps[0].state_dict)
    default = next((n for n in names if n.endswith("wte.weight")), names[0])
    note = (f"{len(snaps)} snapshots of this run, from step 0 (untrained) to step {snaps[-1].step} "
            f"(the model as it is now).")
    return (note, gr.update(visible=True, minimum=0, maximum=len(snaps) - 1, step=1, value=len(snaps) - 1), prompt,
            gr.update(visible=True, choices=names, value=default), gr.update(visible=True, choices=labels, value=labels[0]),
            gr.update(visible=True, choices=labels, value=labels[-1]))


def next_token_figure(top: list[tuple[str, float]]) -> go.Figure:
    fig = go.Figure(go.Bar(x=[p for _, p in top], y=[_show(t) for t, _ in top], orientation="h", marker_color="#6366f1",
                           hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), xaxis=dict(range=[0, 1], tickformat=".0%"),
                      yaxis=dict(autorange="reversed", type="category"), xaxis_title="probability of coming next")
    return fig


def replay_view(index, prompt: str, ckpt):
    """One snapshot replayed: caption, sample, next-token bars, embeddings."""
    ckpt = current_model(ckpt)
    if not ckpt.snapshots:
        return NO_SNAPSHOTS, "", None, None
    snap = _snapshot(ckpt, index)
    try:
        frame = tr.replay_frame(ckpt.model, ckpt.tokenizer, snap, prompt or "", REPLAY_TOP, REPLAY_TOKENS)
    except ValueError as err:  # a prompt with pieces the vocabulary lacks
        return str(err), "", None, None
    loss = f" · val loss {frame.val_loss:.3f}" if frame.val_loss is not None else ""
    caption = f"**Step {frame.step}**{' (untrained)' if frame.step == 0 else ''}{loss}"
    return caption, (prompt or "") + frame.sample, next_token_figure(frame.top), embedding_figure(frame.projection,
                                                                                                   ckpt.tokenizer)


def weight_change_figure(change: tr.WeightChange) -> go.Figure:
    z = change.delta[:HEATMAP_CELLS, :HEATMAP_CELLS].numpy()
    fig = go.Figure(go.Heatmap(z=z, colorscale="RdBu_r", zmid=0, colorbar=dict(title="change"),
                               hovertemplate="row %{y}, column %{x}: %{z:+.4f}<extra></extra>"))
    fig.update_layout(height=520, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="column (input)",
                      yaxis_title="row", yaxis_autorange="reversed")
    return fig


def weight_change_view(name: str, before: str, after: str, ckpt):
    """The heatmap of one parameter's change between two snapshots, and a line of numbers."""
    ckpt = current_model(ckpt)
    if not ckpt.snapshots:
        return None, NO_SNAPSHOTS
    a, b = _snapshot(ckpt, before), _snapshot(ckpt, after)
    try:
        change = tr.weight_change(a, b, name)
    except ValueError as err:
        return None, str(err)
    rows, cols = change.delta.shape
    cut = f" Showing the first {HEATMAP_CELLS} rows and columns of {rows} x {cols}." if max(rows, cols) > HEATMAP_CELLS else ""
    return weight_change_figure(change), (
        f"`{name}` from step {a.step} to step {b.step}: moved by {change.relative:.1%} of its size "
        f"(largest single change {change.max_abs:.4f}).{cut}")


def build(model_state: gr.State | None = None) -> gr.Blocks:
    """The tab; ``model_state`` is the session's current model, shared with the other tabs."""
    with gr.Blocks(title="tinylm: inspect") as demo:
        if model_state is None:
            model_state = new_model_state()
        gr.Markdown(HOW)
        with gr.Row(equal_height=True):
            card = gr.Markdown(scale=5)
            refresh = gr.Button("Inspect the current model again", scale=1, min_width=200)
        with gr.Tab("Errors"):
            gr.Markdown(EXPLAIN["errors"])
            with gr.Row():
                confusion = gr.Plot(label="Confusion matrix: the most frequent next tokens", scale=3)
                errors = gr.Dataframe(label="Tokens with the highest loss", scale=2, max_height=520,
                                      interactive=False)
        with gr.Tab("Loss per token"):
            gr.Markdown(EXPLAIN["surprisal"])
            surprisal = gr.HTML(css_template=CSS)
        with gr.Tab("Embeddings"):
            gr.Markdown(EXPLAIN["embeddings"])
            embeddings = gr.Plot(label="Token embeddings, PCA to 2-D")
            with gr.Row():
                token = gr.Textbox("e", label="A token", max_length=100, scale=1)
                nearest = gr.Markdown()
            row = gr.Dataframe(label="Its row of the embedding table", interactive=False)
        with gr.Tab("Attention & activations"):
            prompt = gr.Textbox(label="Prompt", lines=1, max_lines=3, max_length=2000)
            note = gr.Markdown()
            gr.Markdown(EXPLAIN["attention"])
            attention = gr.Plot(label="Attention, one square per layer and head")
            gr.Markdown(EXPLAIN["activations"])
            activations = gr.Plot(label="Hidden activations")
        with gr.Tab("Loss surface"):
            gr.Markdown(EXPLAIN["surface"])
            with gr.Row():
                compute = gr.Button("Compute the loss surface (a few seconds)", variant="primary")
                stop = gr.Button("Stop")
            progress = gr.Markdown()
            surface = gr.Plot(label="Loss around the trained weights")
        with gr.Tab("Training replay"):
            gr.Markdown(EXPLAIN["replay"])
            replay_note = gr.Markdown()
            snapshot = gr.Slider(0, 1, value=0, step=1, label="Snapshot (drag to replay training)", visible=False)
            replay_prompt = gr.Textbox(label="Fixed prompt", lines=1, max_lines=3, max_length=2000)
            replay_caption = gr.Markdown()
            replay_sample = gr.Textbox(label="What it writes after the prompt (same seed at every step)", lines=3,
                                       interactive=False)
            with gr.Row():
                replay_bars = gr.Plot(label="Next-token distribution after the prompt", scale=2)
                replay_embeddings = gr.Plot(label="Token embeddings at this step, PCA to 2-D", scale=3)
        with gr.Tab("Weight change"):
            gr.Markdown(EXPLAIN["weights"])
            with gr.Row():
                parameter = gr.Dropdown(label="Parameter", visible=False, scale=2)
                change_from = gr.Dropdown(label="From", visible=False, scale=1)
                change_to = gr.Dropdown(label="To", visible=False, scale=1)
            change_note = gr.Markdown()
            change_plot = gr.Plot(label="Change of each weight")

        text_views = [card, confusion, errors, surprisal, embeddings, prompt]
        prompt_outputs = [attention, activations, note]
        replay_inputs = [snapshot, replay_prompt, model_state]
        replay_outputs = [replay_caption, replay_sample, replay_bars, replay_embeddings]
        change_inputs = [parameter, change_from, change_to, model_state]
        for trigger in (demo.load, refresh.click, model_state.change):
            trigger(inspect_model, [model_state], text_views).then(
                prompt_views, [prompt, model_state], prompt_outputs).then(
                embedding_row, [token, model_state], [row, nearest]).then(
                replay_setup, [model_state], [replay_note, snapshot, replay_prompt, parameter, change_from, change_to]).then(
                replay_view, replay_inputs, replay_outputs).then(
                weight_change_view, change_inputs, [change_plot, change_note])
        snapshot.release(replay_view, replay_inputs, replay_outputs)
        replay_prompt.submit(replay_view, replay_inputs, replay_outputs)
        for menu in (parameter, change_from, change_to):
            menu.input(weight_change_view, change_inputs, [change_plot, change_note])
        prompt.submit(prompt_views, [prompt, model_state], prompt_outputs)
        token.submit(embedding_row, [token, model_state], [row, nearest])
        running = compute.click(loss_surface_view, [model_state], [surface, progress])
        stop.click(None, cancels=[running])
    return demo


if __name__ == "__main__":
    launch(build())
