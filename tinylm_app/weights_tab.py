"""The Weights tab: change a model by hand instead of training it, and watch the softmax move.

Layout and wiring only; ``tinylm.edit`` does the work. The model's real weights, by their
``state_dict`` names, sit in an editable table (``weight_table`` / ``EditSession.set``); the
network picture draws how strongly each context token pushes each next token
(``connection_strengths``), and clicking two circles sets that strength (``connect_at``); the
Imprint box writes whole sequences into the weights in closed form (``imprint_report``). After
every change: the next-token bars before and after, and a greedy and a sampled continuation.

Edits happen on the session's model (``model_state``), so the Predict tab sees them too; undo,
redo and reset come from the session's ``EditSession``. Serves ``/edit_weight``, ``/connect`` and
``/imprint`` for gradio_client. Run it alone with ``python -m tinylm_app.weights_tab``.
"""

import html
import warnings

import gradio as gr
import pandas as pd
import torch

from tinylm_app.session import current_model, launch
from tinylm_app.session import model_state as new_model_state
from tinylm.checkpoint import Checkpoint, CheckpointError
from tinylm.edit import (
    DEFAULT_IMPRINT_STRENGTH,
    MAX_STRENGTH,
    MAX_TABLE_COLS,
    Change,
    EditError,
    EditSession,
    axis_kinds,
    axis_label,
    bigram_checkpoint,
    changed_cells,
    connect,
    connect_at,
    connection_strengths,
    dataset_texts,
    imprint_report,
    parse_index,
    parse_value,
    search_tokens,
    table_slice,
    token_label,
    weight,
    weight_names,
    weight_table,
    window,
)
from tinylm.models import count_params, model_kind
from tinylm.predict import checkpoint_zip, continue_text
from tinylm.pretrained import list_pretrained, load_pretrained
from tinylm.sample import UnknownTokenError, next_token_probs, prompt_ids

# Gradio warns that an editable table cannot show a Styler's number formats; it does show its colours
warnings.filterwarnings("ignore", message="Cannot display Styler object in interactive mode")

TOP_BARS = 20  # next tokens in the bar chart
TOP_ROWS = 8  # likeliest next tokens that get rows in the tables and circles in the picture
MAX_NEW_TOKENS = 40  # length of the greedy and the sampled continuation (char models; words: 12)
API_NEW_TOKENS = 10  # tokens of greedy continuation the API returns (short: every call pays for them)
SAMPLE_SEED = 0  # the sampled continuation always uses this seed: only the edit changes it
MAX_CHOICES = 2000  # a vocabulary bigger than this is searched instead of listed
ROW_HEADER = "row ↓ col →"
BIGRAM_DATASETS = ("names", "alphabet", "phrases_pt", "tiny_shakespeare")
EXAMPLE_CONTEXTS = {"alphabet": "KLM", "names": "em", "phrases_pt": "eu gosto de", "phrases_en": "i like to",
                    "tiny_shakespeare": "ROMEO:\nBut soft, what light through yonder "}

HOW = """**Change a language model by hand instead of training it.** Every number in the table is a
real weight of the model (named as in its `state_dict`); click a cell, type a new value and press
Enter, and the bars show the next-token probabilities **before** (grey) and **after** (blue). Or
draw a connection in the picture, or imprint whole sequences below. Undo, redo and reset are always
there; **Predict** uses the edited model too."""

IMPRINT_HOW = """Type a few sequences, one per line (`abc`, `hello`), and press **Imprint**: tinylm writes
them into the weights *without training*: for every (context → next token) pair of every
sequence it reads the vector the output layer sees after that context (the **key**), and solves
for the smallest change to one layer that makes the next token win by *strength* nats there
(a linear associative memory, as in ROME). Bigram: the table's entries; MLP: rows of `lm_head`;
GPT: the last block's `mlp.c_proj`. Then greedy generation from each first token reproduces the
sequence, and the loss on the dataset's validation text shows what that cost."""

CSS = """
.bars { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; color: var(--body-text-color); }
.bars .row { display: grid; grid-template-columns: 5.5em 1fr 9.5em; align-items: center; gap: 6px; height: 19px; }
.bars .tok { text-align: right; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.bars .track { position: relative; height: 14px; background: var(--background-fill-secondary); border-radius: 3px; }
.bars .before { position: absolute; left: 0; top: 0; height: 14px; background: #c7cdd6; border-radius: 3px; }
.bars .after { position: absolute; left: 0; top: 4px; height: 6px; background: #2563eb; border-radius: 3px; }
.bars .num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.up { color: #15803d; } .down { color: #c2410c; }
.bars .legend, .hint { color: var(--body-text-color-subdued); font-size: 12.5px; margin: 2px 0 6px; font-family: var(--font); }
.swatch { display: inline-block; width: 14px; height: 8px; border-radius: 2px; margin: 0 3px 0 8px; }
.texts { font-size: 13.5px; color: var(--body-text-color); }
.texts .label { color: var(--body-text-color-subdued); font-size: 12px; margin-top: 6px; }
.texts pre { white-space: pre-wrap; word-break: break-word; font-family: ui-monospace, Menlo, monospace; margin: 2px 0;
             padding: 6px 8px; border-radius: 6px; background: var(--background-fill-secondary); }
.texts pre.before { opacity: .55; font-size: 12px; }
.ctx { color: #6e7781; }
.error { color: #cf222e; font-size: 14px; }
.imprint table { border-collapse: collapse; font-size: 13.5px; margin: 4px 0; }
.imprint td, .imprint th { padding: 3px 10px; border-bottom: 1px solid var(--border-color-primary); text-align: left; }
.imprint code { font-family: ui-monospace, Menlo, monospace; }
.ok { color: #15803d; font-weight: 600; } .no { color: #c2410c; font-weight: 600; }
.pic svg { width: 100%; height: auto; max-height: 520px; user-select: none; touch-action: none; }
.pic .node { cursor: pointer; }
.pic .node circle { stroke: #1f2328; stroke-width: 1.2; }
.pic .node.picked circle { stroke: #db2777; stroke-width: 4; }
.pic .node text { font-family: ui-monospace, Menlo, monospace; font-size: 13px; fill: #1f2328; pointer-events: none; }
.pic .edge { fill: none; stroke-linecap: round; }
.pic .edge:hover { stroke-opacity: 1 !important; }
.pic .pic-hint { font-size: 12.5px; color: var(--body-text-color-subdued); min-height: 1.3em; }
"""

# The picture: drag circles to move them; click a context token then a next token to connect them.
PICTURE_JS = """
let picked = null, drag = null;
const point = (svg, e) => { const p = svg.createSVGPoint(); p.x = e.clientX; p.y = e.clientY;
                            return p.matrixTransform(svg.getScreenCTM().inverse()); };
const hint = (text) => { const h = element.querySelector('.pic-hint'); if (h) h.textContent = text; };
function redraw(svg) {
  svg.querySelectorAll('path.edge').forEach(path => {
    const a = svg.querySelector(`g.node[data-side="in"][data-pos="${path.dataset.in}"]`);
    const b = svg.querySelector(`g.node[data-side="out"][data-id="${path.dataset.out}"]`);
    if (!a || !b) return;
    const x1 = +a.dataset.x + 18, y1 = +a.dataset.y, x2 = +b.dataset.x - 18, y2 = +b.dataset.y, mid = (x1 + x2) / 2;
    path.setAttribute('d', `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`);
  });
}
function choose(node) {
  if (node.dataset.side === 'in') {
    element.querySelectorAll('g.node.picked').forEach(n => n.classList.remove('picked'));
    if (picked === node) { picked = null; hint(''); return; }
    picked = node; node.classList.add('picked');
    hint(`from ${node.dataset.label}: now click a next token on the right to connect them`);
  } else if (picked && picked.isConnected) {
    hint(`connecting ${picked.dataset.label} → ${node.dataset.label}…`);
    trigger('submit', {position: +picked.dataset.pos, to_id: +node.dataset.id});
    picked.classList.remove('picked'); picked = null;
  } else {
    hint('first click a context token on the left, then a next token on the right');
  }
}
element.addEventListener('pointerdown', e => {
  const node = e.target.closest && e.target.closest('g.node');
  if (!node) return;
  const svg = node.ownerSVGElement, p = point(svg, e);
  drag = {node, svg, x0: p.x, y0: p.y, x: +node.dataset.x, y: +node.dataset.y, moved: false};
  e.preventDefault();
});
element.addEventListener('pointermove', e => {
  if (!drag) return;
  const p = point(drag.svg, e), dx = p.x - drag.x0, dy = p.y - drag.y0;
  if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
  if (!drag.moved) return;
  drag.node.dataset.x = drag.x + dx; drag.node.dataset.y = drag.y + dy;
  drag.node.setAttribute('transform', `translate(${drag.x + dx},${drag.y + dy})`);
  redraw(drag.svg);
});
// ctrl+click is a right click on a Mac: no context menu over the circles
element.addEventListener('contextmenu', e => { if (e.target.closest && e.target.closest('g.node')) e.preventDefault(); });
window.addEventListener('pointerup', () => {
  if (!drag) return;
  const {node, moved} = drag;
  drag = null;
  if (!moved) choose(node);
});
"""


def _escape(text: str) -> str:
    """HTML-escape, and keep ``${`` and braces from reading as gr.HTML template syntax."""
    return html.escape(str(text)).replace("$", "&#36;").replace("{", "&#123;").replace("}", "&#125;")


# ---------------------------------------------------------------------------------------------
# The model being edited: the session's checkpoint and its EditSession, together in one state


def _editing(ckpt: Checkpoint | None, editing: dict | None) -> dict:
    """{"ckpt", "session"} for the session's model; a new EditSession when the model changed.

    With no model chosen yet (``ckpt`` None) the default shipped model is loaded once and kept
    here, and the first edit hands it to ``model_state`` so every tab sees the edited copy.
    """
    if ckpt is None and editing is not None and editing.get("default"):
        return editing
    if ckpt is not None and editing is not None and editing["ckpt"] is ckpt:
        return editing
    ckpt_ = current_model(ckpt)
    return {"ckpt": ckpt_, "session": EditSession.start(ckpt_.model), "default": ckpt is None}


def _state_out(ckpt, editing):
    """What to put in model_state after an edit: the edited checkpoint if the session had none yet."""
    return editing["ckpt"] if ckpt is None else gr.skip()


def _ids(ckpt: Checkpoint, context: str) -> list[int]:
    return prompt_ids(ckpt.tokenizer, context or "")


def _n_new(ckpt) -> int:
    return MAX_NEW_TOKENS if ckpt.tokenizer.kind == "char" else 12


def _prediction(ckpt: Checkpoint, context: str) -> dict:
    """Next-token probabilities, a greedy and a sampled continuation of ``context``."""
    probs = next_token_probs(ckpt.model, _ids(ckpt, context))
    n = _n_new(ckpt)
    greedy = "".join(t.token for t in continue_text(ckpt.model, ckpt.tokenizer, context or "", n, temperature=0))
    sampled = "".join(t.token for t in continue_text(ckpt.model, ckpt.tokenizer, context or "", n, temperature=1.0,
                                                     seed=SAMPLE_SEED))
    return {"probs": probs, "greedy": greedy, "sampled": sampled}


def _safe_prediction(ckpt, context) -> dict | None:
    try:
        return _prediction(ckpt, context)
    except ValueError:  # UnknownTokenError: the context is shown as an error elsewhere
        return None


# ---------------------------------------------------------------------------------------------
# Formatting


def _model_card(editing: dict) -> str:
    ckpt, session = editing["ckpt"], editing["session"]
    info = ckpt.info
    val = f" · val loss {info['val_loss']:.3f}" if isinstance(info.get("val_loss"), (int, float)) else ""
    data = f" · from *{info['dataset']}*" if info.get("dataset") else ""
    n = len(session.edits())
    edits = f" · **{n:,} weight{'s' if n != 1 else ''} edited**" if n else " · unedited"
    return (f"**Editing: {_escape(ckpt.name)}** — {model_kind(ckpt.model).upper()} · {ckpt.tokenizer.kind} tokenizer "
            f"({ckpt.tokenizer.vocab_size:,} tokens) · {count_params(ckpt.model):,} weights · reads the last "
            f"{ckpt.model.block_size} token{'s' if ckpt.model.block_size > 1 else ''}{data}{val}{edits}")


def _bars_html(tokenizer, after: dict | None, before: dict | None = None, error: str = "") -> str:
    """The top next tokens: a grey bar for before the change, a blue one for after."""
    if after is None:
        return f"<div class='error'>⚠ {_escape(error)}</div>"
    p_after = after["probs"]
    p_before = before["probs"] if before is not None else p_after
    top = torch.topk(torch.maximum(p_after, p_before), min(TOP_BARS, p_after.numel())).indices.tolist()
    top.sort(key=lambda i: -float(p_after[i]))
    scale = max(float(p_after[top].max()), float(p_before[top].max()), 1e-9)
    rows = []
    for i in top:
        a, b = float(p_after[i]), float(p_before[i])
        delta = a - b
        arrow = "" if before is None or abs(delta) < 0.0005 else (
            f" <span class='{'up' if delta > 0 else 'down'}'>{'▲' if delta > 0 else '▼'}</span>")
        number = f"{a:6.1%}" if before is None or abs(delta) < 0.0005 else f"{b:.1%} → {a:.1%}"
        rows.append(f"<div class='row' title='id {i}'><span class='tok'>{_escape(token_label(tokenizer, i))}</span>"
                    f"<span class='track'><span class='before' style='width:{100 * b / scale:.1f}%'></span>"
                    f"<span class='after' style='width:{100 * a / scale:.1f}%'></span></span>"
                    f"<span class='num'>{number}{arrow}</span></div>")
    legend = ("<div class='legend'>next-token probabilities:<span class='swatch' style='background:#c7cdd6'></span>"
              "before the last change<span class='swatch' style='background:#2563eb'></span>after</div>")
    return f"<div class='bars'>{legend}{''.join(rows)}</div>"


def _texts_html(context: str, after: dict | None, before: dict | None = None) -> str:
    if after is None:
        return ""
    def shown(text):  # line breaks as ↵ keep a names model's "a↵a↵" on one compact line
        return _escape(text.replace("\n", "↵ "))

    ctx = f"<span class='ctx'>{shown(context)}</span>"

    def block(label, key):
        new = f"<pre>{ctx}{shown(after[key])}</pre>"
        old = f"<pre class='before'>before: {shown(before[key])}</pre>" if before and before[key] != after[key] else ""
        return f"<div class='label'>{label}</div>{new}{old}"

    return (f"<div class='texts'>{block('greedy continuation (always the likeliest token)', 'greedy')}"
            f"{block(f'sampled continuation (temperature 1, seed {SAMPLE_SEED})', 'sampled')}</div>")


def _picture_html(ckpt: Checkpoint, ids: list[int] | None, extra: list[int] = ()) -> str:
    """The network for this context as SVG: context tokens left, likeliest next tokens right."""
    hint = ("<div class='pic-hint'>Click a context token (left), then a next token (right), to set that "
            "connection to the strength below; drag circles to move them. Blue pushes a token up, orange "
            "down; width = strength.</div>")
    if ids is None:
        return f"<div class='pic'>{hint}</div>"
    tokenizer, model = ckpt.tokenizer, ckpt.model
    probs = next_token_probs(model, ids)
    outputs = torch.topk(probs, min(TOP_ROWS, probs.numel())).indices.tolist()
    outputs += [t for t in extra if t not in outputs and 0 <= t < tokenizer.vocab_size]
    conn = connection_strengths(model, ids, outputs)
    n = max(len(conn.inputs), len(conn.outputs))
    height, width, gap = 40 + 46 * n, 640, 46
    strongest = max((abs(s) for row in conn.strengths for s in row), default=1.0) or 1.0

    def y(i, count):
        return 20 + gap * i + (gap * (n - count)) / 2 + gap / 2

    ins = [(pos, t, 170, y(i, len(conn.inputs))) for i, (pos, t) in enumerate(conn.inputs)]
    outs = [(t, p, 470, y(j, len(conn.outputs))) for j, (t, p) in enumerate(zip(conn.outputs, conn.probs))]
    edges = []
    for (pos, t_in, x1, y1), row in zip(ins, conn.strengths):
        for (t_out, _, x2, y2), s in zip(outs, row):
            share = abs(s) / strongest
            colour = "#2563eb" if s >= 0 else "#ea580c"
            x1e, x2e, mid = x1 + 18, x2 - 18, (x1 + x2) / 2
            title = f"{token_label(tokenizer, t_in)} → {token_label(tokenizer, t_out)}: {s:+.2f}"
            edges.append(f"<path class='edge' data-in='{pos}' data-out='{t_out}' d='M{x1e},{y1:.1f} C{mid},{y1:.1f} "
                         f"{mid},{y2:.1f} {x2e},{y2:.1f}' stroke='{colour}' stroke-width='{1 + 9 * share:.2f}' "
                         f"stroke-opacity='{0.2 + 0.8 * share:.2f}'><title>{_escape(title)}</title></path>")
    nodes = []
    back = len(window(model, ids))
    for pos, t, x, yy in ins:
        label = _escape(token_label(tokenizer, t))
        age = back - pos - 1
        where = "current token" if age == 0 else f"{age} before"
        nodes.append(f"<g class='node' data-side='in' data-pos='{pos}' data-id='{t}' data-label='{label}' data-x='{x}' "
                     f"data-y='{yy:.1f}' transform='translate({x},{yy:.1f})'><circle r='18' fill='#e0e7ff'/>"
                     f"<text text-anchor='middle' dy='4.5'>{label[:3]}</text>"
                     f"<text x='-26' dy='4.5' text-anchor='end' style='fill:#57606a;font-size:11px'>{_escape(where)}"
                     f"{'' if len(label) <= 3 else ': ' + label}</text></g>")
    for t, p, x, yy in outs:
        label = _escape(token_label(tokenizer, t))
        fill = f"rgba(37, 99, 235, {0.12 + 0.75 * p:.2f})"
        nodes.append(f"<g class='node' data-side='out' data-id='{t}' data-label='{label}' data-x='{x}' data-y='{yy:.1f}' "
                     f"transform='translate({x},{yy:.1f})'><circle r='18' fill='{fill}'/>"
                     f"<text text-anchor='middle' dy='4.5'>{label[:3]}</text>"
                     f"<text x='26' dy='4.5'>{label if len(label) > 3 else ''} {p:.1%}</text></g>")
    titles = ("<text x='170' y='14' text-anchor='middle' style='font-size:12px;fill:#57606a'>context (what it reads)</text>"
              "<text x='470' y='14' text-anchor='middle' style='font-size:12px;fill:#57606a'>next token (probability)</text>")
    svg = (f"<svg viewBox='0 0 {width} {height}' xmlns='http://www.w3.org/2000/svg'>{titles}{''.join(edges)}"
           f"{''.join(nodes)}</svg>")
    return f"<div class='pic'>{svg}{hint}</div>"


def _unique(labels: list[str], ids: list[int]) -> list[str]:
    """Column names a table can use: a label that repeats gets its index after it."""
    return [f"{label} #{i}" if labels.count(label) > 1 or label == ROW_HEADER else label for label, i in zip(labels, ids)]


def _table(editing: dict, name: str, rows, cols, highlight: set[int]):
    """The weight slice as a styled DataFrame (colour = sign and size; the context's rows marked)."""
    ckpt = editing["ckpt"]
    table = weight_table(ckpt.model, name, rows, cols, tokenizer=ckpt.tokenizer)
    values = [[round(v, 3) for v in row] for row in table.values]
    frame = pd.DataFrame(values, columns=_unique(table.col_labels, cols))
    frame.insert(0, ROW_HEADER, table.row_labels)
    biggest = max((abs(v) for row in values for v in row), default=0.0) or 1.0
    row_ids = rows if rows is not None else [None]

    def colours(data: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=data.index, columns=data.columns)
        for i, row in enumerate(values):
            marked = row_ids[i] in highlight
            css.iloc[i, 0] = "background-color: #fde68a; font-weight: 700" if marked else "font-weight: 600"
            for j, v in enumerate(row):
                share = min(abs(v) / biggest, 1.0)
                rgb = "37, 99, 235" if v >= 0 else "234, 88, 12"
                css.iloc[i, j + 1] = f"background-color: rgba({rgb}, {0.06 + 0.5 * share:.2f})" + (
                    "; font-weight: 700" if marked else "")
        return css

    return frame.style.apply(colours, axis=None), values


def _edits_frame(session: EditSession) -> pd.DataFrame:
    """One row per change in force: what it was, and its first edits (name[index]: old → new)."""
    rows = []
    for n, change in enumerate(session.history, 1):
        first = change.edits[0]
        more = f" (+{len(change.edits) - 1:,} more)" if len(change.edits) > 1 else ""
        rows.append([n, change.what, first.name, ", ".join(map(str, first.index)),
                     f"{first.old:.4g} → {first.new:.4g}{more}", len(change.edits)])
    return pd.DataFrame(rows, columns=["#", "change", "weight", "index", "old → new", "weights changed"])


def _controls(editing: dict, name: str, context: str):
    """The row picker, head picker and column slider that suit weight ``name``."""
    model, tokenizer = editing["ckpt"].model, editing["ckpt"].tokenizer
    tensor = weight(model, name)
    kinds = axis_kinds(model, name)
    n = tensor.size(0)
    if kinds[0] == "token":
        ids = range(n) if n <= MAX_CHOICES else []
        choices = [(f"{axis_label(model, name, 0, i, tokenizer)}  #{i}", i) for i in ids]
    else:
        choices = [(axis_label(model, name, 0, i, tokenizer), i) for i in range(min(n, 4096))]
    what = "entries" if tensor.dim() == 1 else "rows"
    rows = gr.update(choices=choices, value=[], label=f"{what.capitalize()} to show (empty: follow the context)")
    search = gr.update(visible=kinds[0] == "token" and n > MAX_CHOICES)
    is_head = len(kinds) > 1 and kinds[1] == "head"
    head = gr.update(visible=is_head, choices=list(range(model.config.n_head)) if is_head else [0], value=0)
    width = tensor.size(-1)
    wide = tensor.dim() == 2 and kinds[1] not in ("token", "head") and width > MAX_TABLE_COLS
    first_col = gr.update(visible=wide, maximum=max(width - MAX_TABLE_COLS, 1), value=0)
    return rows, search, head, first_col


def _weight_choices(model) -> list[tuple[str, str]]:
    return [(f"{n}  ({' × '.join(map(str, weight(model, n).shape))})", n) for n in weight_names(model)]


def _default_weight(model) -> str:
    return {"bigram": "logits", "mlp": "lm_head.weight", "gpt": "lm_head.weight"}[model_kind(model)]


# ---------------------------------------------------------------------------------------------
# Rendering everything that depends on the model and the context


RENDERED = 10  # outputs of _render


def _render(editing: dict, context: str, name: str, chosen, head, first_col, before: dict | None = None,
            status: str = "", extra: list[int] = (), after: dict | None = None) -> list:
    """[table, view, bars, texts, picture, edits, status, card, from-token choices, to-token choices]."""
    ckpt = editing["ckpt"]
    model, tokenizer = ckpt.model, ckpt.tokenizer
    if name not in weight_names(model):
        name = _default_weight(model)
    try:
        ids = _ids(ckpt, context)
        error = ""
    except UnknownTokenError as err:
        ids, error = None, f"{err}. Change or remove them to see predictions."
    if after is None and ids is not None:
        after = _prediction(ckpt, context)
    top = torch.topk(after["probs"], min(TOP_ROWS, tokenizer.vocab_size)).indices.tolist() if after else []
    win = window(model, ids or _ids(ckpt, ""))
    try:
        rows, cols = table_slice(model, tokenizer, name, ids or [], top, [int(c) for c in chosen or []],
                                 int(head or 0), int(first_col or 0))
    except EditError as err:
        gr.Warning(_escape(str(err)))
        rows, cols = table_slice(model, tokenizer, name, ids or [], top)
    kinds = axis_kinds(model, name)
    reads_side = kinds[0] == "token" and not name.startswith("lm_head") or model_kind(model) == "bigram"
    highlight = set(win[-1:] if model_kind(model) == "bigram" else win) if reads_side else set(top[:1])
    styled, shown = _table(editing, name, rows, cols, highlight)
    view = {"name": name, "rows": rows, "cols": cols, "shown": shown, "cell": None}
    blank = model.config.vocab_size if model_kind(model) == "mlp" else None
    froms = [(f"{token_label(tokenizer, t)}  ({'current' if p == len(win) - 1 else f'{len(win) - 1 - p} before'})", p)
             for p, t in enumerate(win) if t != blank]
    from_update = gr.update(choices=froms, value=froms[-1][1] if froms else None)
    order = torch.argsort(after["probs"], descending=True).tolist()[:MAX_CHOICES] if after else []
    to_update = gr.update(choices=[(f"{token_label(tokenizer, i)}  ({float(after['probs'][i]):.1%})", f"#{i}")
                                   for i in order])
    return [styled, view, _bars_html(tokenizer, after, before, error), _texts_html(context or "", after, before),
            _picture_html(ckpt, ids, extra), _edits_frame(editing["session"]), status, _model_card(editing), from_update,
            to_update]


def _code(text: str) -> str:
    """Text as a Markdown code span (shown literally)."""
    return "`" + str(text).replace("`", "ˋ").replace("\n", "↵") + "`"


def _describe(change: Change | None, editing: dict, before: dict | None, after: dict | None) -> str:
    """One line about the last change: what it did, and the next token that moved most."""
    if change is None:
        return ""
    n = len(change.edits)
    if not n:
        return f"Nothing changed: {_code(change.what)} (the weights already had those values)."
    ckpt = editing["ckpt"]
    line = f"✓ {_code(change.what)}: {n:,} weight{'s' if n != 1 else ''} changed"
    if before is not None and after is not None:
        moved = int(torch.argmax((after["probs"] - before["probs"]).abs()))
        b, a = float(before["probs"][moved]), float(after["probs"][moved])
        if abs(a - b) >= 0.0005:
            line += f" · after this context, {_code(token_label(ckpt.tokenizer, moved))} moved most: **{b:.1%} → {a:.1%}**"
        else:
            line += " · the prediction after this context did not move"
    return line


# ---------------------------------------------------------------------------------------------
# Handlers


def show_model(ckpt, editing, context, name, chosen, head, first_col):
    """A new model in the session (or the page loaded): its weights, an example context, its picture."""
    if editing is not None and (editing["ckpt"] is ckpt or (ckpt is None and editing.get("default"))):
        return [gr.skip()] * (7 + RENDERED)  # our own first edit put the model into the session: nothing is new
    editing = _editing(ckpt, editing)
    model = editing["ckpt"].model
    context = EXAMPLE_CONTEXTS.get(editing["ckpt"].info.get("dataset"), context or "")
    name = _default_weight(model)
    names = gr.update(choices=_weight_choices(model), value=name)
    controls = _controls(editing, name, context)
    return [editing, context, names, *controls, *_render(editing, context, name, [], 0, 0)]


def on_view(ckpt, editing, context, name, chosen, head, first_col):
    """The context, the rows, the head or the columns changed: redraw (no edit, no before)."""
    editing = _editing(ckpt, editing)
    return [editing, *_render(editing, context, name, chosen, head, first_col)]


def on_weight(ckpt, editing, context, name, head, first_col):
    """Another weight chosen: fresh row choices for it, then redraw."""
    editing = _editing(ckpt, editing)
    controls = _controls(editing, name, context)
    return [editing, *controls, *_render(editing, context, name, [], 0, 0)]


def search_rows(ckpt, editing, query, chosen):
    """Big vocabularies: tokens matching the search become choices (the chosen ones stay)."""
    editing = _editing(ckpt, editing)
    tokenizer = editing["ckpt"].tokenizer
    found = search_tokens(tokenizer, query or "")
    keep = [int(c) for c in chosen or []]
    choices = [(f"{token_label(tokenizer, i)}  #{i}", i) for i in dict.fromkeys(keep + found)]
    if query and not found:
        gr.Warning(f"no token contains {_escape(query)!r}")
    return gr.update(choices=choices, value=keep)


def _act(ckpt, editing, context, name, chosen, head, first_col, action, extra=()) -> list:
    """Run ``action(editing) -> Change`` and redraw with the before/after bars, or warn and change nothing.

    Returns [model_state, editing, *render outputs].
    """
    editing = _editing(ckpt, editing)
    before = _safe_prediction(editing["ckpt"], context)
    try:
        change = action(editing)
    except (EditError, ValueError) as err:  # UnknownTokenError is a ValueError too
        gr.Warning(_escape(str(err)))
        return [gr.skip(), editing, *_render(editing, context, name, chosen, head, first_col, extra=extra)]
    if change is None:  # nothing to do (the table sends its value again after Enter): leave the screen as it is
        return [gr.skip()] * (2 + RENDERED)
    after = _safe_prediction(editing["ckpt"], context)
    status = _describe(change, editing, before, after)
    return [_state_out(ckpt, editing), editing,
            *_render(editing, context, name, chosen, head, first_col, before, status, extra, after)]


def on_table_edit(ckpt, editing, context, name, chosen, head, first_col, view, frame):
    """Cells typed into the table: each changed cell becomes an edit (one change for all of them)."""

    def action(editing):
        if view is None or frame is None:
            raise EditError("the table is not ready yet")
        typed = frame.iloc[:, 1:].values.tolist() if isinstance(frame, pd.DataFrame) else [r[1:] for r in frame]
        cells = changed_cells(view["shown"], typed, view["rows"], view["cols"])
        if not cells:
            return None
        what = "; ".join(f"{_cell_name(editing, view['name'], index)} = {value}" for index, value in cells[:3])
        change = editing["session"].set_many(view["name"], cells, what + ("; …" if len(cells) > 3 else ""))
        # the table sends its value again after Enter, sometimes with the view from before the edit:
        # then the weights already hold what was typed, no weight moved, and the screen stays as it is
        return change if change.edits else None

    return _act(ckpt, editing, context, name, chosen, head, first_col, action)


def _cell_name(editing, name, index, value=None) -> str:
    """``logits[e, m]``: an index with token labels where the axis is the vocabulary."""
    model, tokenizer = editing["ckpt"].model, editing["ckpt"].tokenizer
    parts = [axis_label(model, name, axis, i, tokenizer) for axis, i in enumerate(index)]
    return f"{name}[{', '.join(parts)}]" + ("" if value is None else f" = {value:.4g}")


def on_select(view, evt: gr.SelectData):
    """Remember the clicked cell, for Reset cell / Reset row."""
    if view is None or evt.index is None:
        return gr.skip()
    i, j = evt.index
    view = dict(view)
    view["cell"] = (i, j - 1) if j >= 1 else (i, None)
    return view


def _selected(view) -> tuple[int, int | None]:
    if not view or not view.get("cell"):
        raise EditError("click a cell of the table first")
    return view["cell"]


def reset_cell(ckpt, editing, context, name, chosen, head, first_col, view):
    def action(editing):
        i, j = _selected(view)
        if j is None:
            raise EditError("that is the row's label: click a number")
        index = (view["cols"][j],) if view["rows"] is None else (view["rows"][i], view["cols"][j])
        return editing["session"].reset_cell(view["name"], index)

    return _act(ckpt, editing, context, name, chosen, head, first_col, action)


def reset_row(ckpt, editing, context, name, chosen, head, first_col, view):
    def action(editing):
        i, _ = _selected(view)
        return editing["session"].reset_row(view["name"], 0 if view["rows"] is None else view["rows"][i])

    return _act(ckpt, editing, context, name, chosen, head, first_col, action)


def reset_all(ckpt, editing, context, name, chosen, head, first_col):
    return _act(ckpt, editing, context, name, chosen, head, first_col, lambda e: e["session"].reset_all())


def undo(ckpt, editing, context, name, chosen, head, first_col):
    def action(editing):
        change = editing["session"].undo()
        if change is None:
            raise EditError("nothing to undo")
        return Change(f"undo: {change.what}", change.edits)

    return _act(ckpt, editing, context, name, chosen, head, first_col, action)


def redo(ckpt, editing, context, name, chosen, head, first_col):
    def action(editing):
        change = editing["session"].redo()
        if change is None:
            raise EditError("nothing to redo")
        return Change(f"redo: {change.what}", change.edits)

    return _act(ckpt, editing, context, name, chosen, head, first_col, action)


def _to_id(tokenizer, token) -> int:
    """A next token from the To box: its id (an int, or "#12"), or its text as the tables show it."""
    if isinstance(token, int) and not isinstance(token, bool):
        return token
    text = str(token or "")
    if text.startswith("#") and text[1:].isdigit():
        return int(text[1:])
    found = search_tokens(tokenizer, text, limit=1)
    if not text or not found or token_label(tokenizer, found[0]) != text.replace(" ", "·").replace("\n", "↵"):
        raise EditError(f"{text!r} is not one token of this vocabulary (type it as the tables show it, or #id)")
    return found[0]


def draw_connection(ckpt, editing, context, name, chosen, head, first_col, position, to_token, strength):
    """The Connect button: set the edge from a context token to a next token."""

    def action(editing):
        ckpt_ = editing["ckpt"]
        if position is None:
            raise EditError("choose a context token to connect from")
        to_id = _to_id(ckpt_.tokenizer, to_token)
        ids = _ids(ckpt_, context)
        win = window(ckpt_.model, ids)
        if not 0 <= int(position) < len(win):
            raise EditError("that context token is gone (the context changed): choose it again")
        what = (f"connect {token_label(ckpt_.tokenizer, win[int(position)])} → {token_label(ckpt_.tokenizer, to_id)} "
                f"at {parse_value(strength, 'the strength', MAX_STRENGTH):g}")
        return editing["session"].record(connect_at(ckpt_.model, ids, int(position), to_id, strength, what))

    try:
        extra = [_to_id(_editing(ckpt, editing)["ckpt"].tokenizer, to_token)]
    except EditError:
        extra = []
    return _act(ckpt, editing, context, name, chosen, head, first_col, action, extra)


def connect_from_picture(ckpt, editing, context, name, chosen, head, first_col, strength, evt: gr.EventData):
    """Two circles clicked in the picture: the same as Connect, with the clicked tokens."""
    data = getattr(evt, "_data", None) or {}
    return draw_connection(ckpt, editing, context, name, chosen, head, first_col, data.get("position"),
                   data.get("to_id"), strength)


def imprint_sequences(ckpt, editing, context, name, chosen, head, first_col, sequences, strength):
    """The Imprint button: write the sequences in, then show each greedy reproduction and the val loss."""
    holder = {}

    def action(editing):
        ckpt_ = editing["ckpt"]
        texts = dataset_texts(ckpt_.info.get("dataset"))
        report = imprint_report(ckpt_.model, ckpt_.tokenizer, sequences or "", strength,
                                val_text=texts[1] if texts else None, background=texts[0] if texts else None)
        holder["report"] = report
        return editing["session"].record(report.imprint.change)

    out = _act(ckpt, editing, context, name, chosen, head, first_col, action)
    report = holder.get("report")
    return [*out, _imprint_html(report) if report else gr.skip()]


def _imprint_html(report) -> str:
    rows = "".join(
        f"<tr><td><code>{_escape(r.sequence)}</code></td><td><code>{_escape(r.greedy)}</code></td>"
        f"<td class='{'ok' if r.ok else 'no'}'>{'✓ reproduced' if r.ok else '✗ not reproduced'}</td></tr>"
        for r in report.imprint.reproduced)
    if report.val_loss_before is not None:
        delta = report.val_loss_after - report.val_loss_before
        loss = (f"<p>Loss on the dataset's validation text ({report.val_tokens:,} tokens): "
                f"<b>{report.val_loss_before:.3f} → {report.val_loss_after:.3f}</b> "
                f"(<span class='{'down' if delta > 0.001 else 'up'}'>{delta:+.3f}</span> nats per token): "
                f"the price of remembering these.</p>")
    else:
        loss = "<p>No validation text for this model's data, so the price in loss is not measured.</p>"
    conflicts = "".join(f"<li>{_escape(c)}</li>" for c in report.imprint.conflicts)
    conflicts = (f"<p>Greedy generation can follow a context one way only:</p><ul>{conflicts}</ul>"
                 if conflicts else "")
    n = len(report.imprint.change.edits)
    return (f"<div class='imprint'><table><tr><th>sequence</th><th>greedy, after its first token</th><th></th></tr>{rows}"
            f"</table><p>{report.imprint.pairs} (context → next token) pairs written into {n:,} weights.</p>"
            f"{loss}{conflicts}</div>")


def export(ckpt, editing):
    """The edited model as a checkpoint .zip (it loads in the Train tab, the CLI, or load_checkpoint)."""
    editing = _editing(ckpt, editing)
    source = editing["ckpt"]
    n = len(editing["session"].edits())
    name = source.name if n == 0 or source.name.endswith("-edited") else f"{source.name}-edited"
    edited = Checkpoint(source.model, source.tokenizer, {**source.info, "name": name, "edited_weights": n},
                        source.metrics)
    return str(checkpoint_zip(edited))


def load_model(choice: str):
    """The model picker: a counted bigram of a dataset, or a shipped model (a fresh copy)."""
    if not choice:
        return gr.skip()
    kind, _, name = choice.partition(":")
    try:
        return bigram_checkpoint(name) if kind == "bigram" else load_pretrained(name)
    except (CheckpointError, EditError, ValueError, OSError) as err:
        raise gr.Error(str(err)) from err


def _model_choices() -> list[tuple[str, str]]:
    bigrams = [(f"bigram counted from {d}" + (" (words)" if d.startswith("phrases") else ""), f"bigram:{d}")
               for d in BIGRAM_DATASETS]
    return bigrams + [(f"{name} (shipped)", f"shipped:{name}") for name in list_pretrained()]


# --- the API: JSON in, JSON out, on this session's model ------------------------------------------


def _top(tokenizer, probs, k: int = 10) -> list[dict]:
    top = torch.topk(probs, min(k, probs.numel()))
    return [{"token": tokenizer.decode([i]), "id": i, "prob": round(p, 6)} for i, p in
            zip(top.indices.tolist(), top.values.tolist())]


def _api(ckpt, editing, context, action) -> tuple[dict, object, dict]:
    editing = _editing(ckpt, editing)
    c = editing["ckpt"]
    try:
        ids = _ids(c, context)
        before = next_token_probs(c.model, ids)
        change, extra = action(editing)
        after = next_token_probs(c.model, ids)
    except (EditError, ValueError) as err:
        raise gr.Error(str(err)) from err
    greedy = "".join(t.token for t in continue_text(c.model, c.tokenizer, context or "", API_NEW_TOKENS, temperature=0))
    answer = {"change": change.what, "edits": len(change.edits),
              "first_edits": [{"name": e.name, "index": list(e.index), "old": e.old, "new": e.new} for e in change.edits[:5]],
              "context": context or "", "before": _top(c.tokenizer, before), "after": _top(c.tokenizer, after),
              "greedy": greedy, **extra}
    return answer, _state_out(ckpt, editing), editing


def edit_weight_api(name, index, value, context, ckpt, editing):
    """``/edit_weight``: set ``state_dict()[name][index] = value`` in this session's model.

    ``index`` is [row, col] (or one number for a 1-D weight, or text like "3, 5"); ``value`` a
    number within ±1000. Returns the change, the top-10 next tokens after ``context`` before and
    after it, and the greedy continuation. A bad name, index or value is refused (model unchanged).
    """
    def action(editing):
        tensor = weight(editing["ckpt"].model, str(name))
        index_ = parse_index(index, tensor, str(name))
        what = _cell_name(editing, str(name), index_)
        change = editing["session"].set(str(name), index_, value, what=f"{what} = {value}")
        return change, {}

    return _api(ckpt, editing, context, action)


def connect_api(from_token, to_token, strength, context, ckpt, editing):
    """``/connect``: after ``from_token`` (its last place in ``context``, or alone), push ``to_token``
    with ``strength`` (logit units). Returns the same JSON as /edit_weight."""
    def action(editing):
        c = editing["ckpt"]
        return editing["session"].record(connect(c.model, c.tokenizer, from_token, to_token, strength,
                                                        context or None)), {}

    return _api(ckpt, editing, context, action)


def imprint_api(sequences, strength, ckpt, editing):
    """``/imprint``: write sequences (one per line) into this session's model without training.

    Returns each sequence's greedy reproduction from its first token, the val loss before and
    after, and how many weights changed.
    """
    editing = _editing(ckpt, editing)
    c = editing["ckpt"]
    texts = dataset_texts(c.info.get("dataset"))
    try:
        report = imprint_report(c.model, c.tokenizer, sequences or "", strength, val_text=texts[1] if texts else None,
                                background=texts[0] if texts else None)
    except (EditError, ValueError) as err:
        raise gr.Error(str(err)) from err
    editing["session"].record(report.imprint.change)
    answer = {"change": report.imprint.change.what, "edits": len(report.imprint.change.edits),
              "pairs": report.imprint.pairs, "conflicts": report.imprint.conflicts,
              "reproduced": [{"sequence": r.sequence, "greedy": r.greedy, "ok": r.ok} for r in report.imprint.reproduced],
              "val_loss_before": report.val_loss_before, "val_loss_after": report.val_loss_after,
              "val_tokens": report.val_tokens}
    return answer, _state_out(ckpt, editing), editing


# ---------------------------------------------------------------------------------------------
# Layout


def build(model_state: gr.State | None = None) -> gr.Blocks:
    """The tab; ``model_state`` is the session's current model, shared with the other tabs."""
    with gr.Blocks(title="tinylm: weights") as demo:
        if model_state is None:
            model_state = new_model_state()
        editing = gr.State(None)  # {"ckpt", "session"}: the model being edited and its undo history
        view = gr.State(None)  # what the table shows: weight name, row/col indices, values, clicked cell
        gr.Markdown(HOW)
        with gr.Row(equal_height=True):
            card = gr.Markdown(scale=4)
            picker = gr.Dropdown(_model_choices(), value=None, label="Edit another model", scale=2, min_width=220,
                                 info="a bigram is counted in a second: the easiest to edit")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                context = gr.Textbox("", label="Context", lines=1, max_lines=4, max_length=2000,
                                     placeholder="Some text; the model predicts what comes next (empty: a line start)")
                with gr.Row():
                    weight_name = gr.Dropdown([], label="Weight (state_dict name, shape)", scale=3, min_width=220)
                    rows = gr.Dropdown([], value=[], multiselect=True, label="Rows to show (empty: follow the context)",
                                       scale=3, min_width=220)
                with gr.Row():
                    search = gr.Textbox(label="Search tokens", placeholder="type part of a token, then Enter",
                                        visible=False, scale=2)
                    head = gr.Radio([0], value=0, label="attention head", visible=False, scale=2)
                    first_col = gr.Slider(0, 1, value=0, step=1, label="first column", visible=False, scale=2)
                table = gr.Dataframe(interactive=True, label="Weights: click a cell, type a number, press Enter",
                                     max_height=430, static_columns=[0], pinned_columns=1, elem_id="weights-table")
                with gr.Row():
                    undo_button = gr.Button("↶ Undo", size="sm", min_width=80)
                    redo_button = gr.Button("↷ Redo", size="sm", min_width=80)
                    reset_cell_button = gr.Button("Reset cell", size="sm", min_width=80)
                    reset_row_button = gr.Button("Reset row", size="sm", min_width=80)
                    reset_all_button = gr.Button("Reset all", size="sm", variant="stop", min_width=80)
                status = gr.Markdown(elem_id="weights-status")
            with gr.Column(scale=2, min_width=360):
                bars = gr.HTML(css_template=CSS, js_on_load=None, elem_id="weights-bars")
                texts = gr.HTML(css_template=CSS, js_on_load=None)
        gr.Markdown("### Draw connections\nThe network for this context: what the model reads on the left, its "
                    "likeliest next tokens on the right. An edge is how much that context token raises (blue) or "
                    "lowers (orange) the next token's logit: for a bigram the table entry itself, for an MLP or a GPT "
                    "the logit with the token minus the logit without it. Setting an edge changes that next token's "
                    "row of the output layer (the smallest change that does it).")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                picture = gr.HTML(css_template=CSS, js_on_load=PICTURE_JS, elem_id="weights-picture")
            with gr.Column(scale=2, min_width=300):
                from_token = gr.Dropdown([], label="From (a token of the context)")
                to_token = gr.Dropdown([], allow_custom_value=True, label="To (a next token: pick or type it, or #id)")
                strength = gr.Slider(-MAX_STRENGTH / 10, MAX_STRENGTH / 10, value=5, step=0.5,
                                     label="strength (logit units: +5 ≈ e⁵ = 150× likelier)")
                connect_button = gr.Button("Connect", variant="primary")
        with gr.Accordion("Imprint sequences (no training)", open=True):
            gr.Markdown(IMPRINT_HOW)
            with gr.Row(equal_height=False):
                with gr.Column(scale=2, min_width=300):
                    sequences = gr.Textbox("", label="Sequences, one per line", lines=3, max_lines=10, max_length=2000)
                    imprint_strength = gr.Slider(0.5, 15, value=DEFAULT_IMPRINT_STRENGTH, step=0.5,
                                                 label="strength (nats the next token wins by)")
                    imprint_button = gr.Button("Imprint", variant="primary")
                with gr.Column(scale=3, min_width=360):
                    imprint_result = gr.HTML(css_template=CSS, js_on_load=None, elem_id="imprint-result")
        with gr.Accordion("Edits so far, and export", open=False):
            edits = gr.Dataframe(_edits_frame(EditSession(None, {})), interactive=False, max_height=300)
            with gr.Row():
                export_button = gr.Button("Export the edited model (.zip)", min_width=200)
                export_file = gr.File(label="checkpoint", interactive=False, min_width=200)

        # hidden: the api-only endpoints, JSON in and out
        with gr.Group(visible=False):
            api_name, api_index, api_value = gr.Textbox(label="name"), gr.JSON(label="index"), gr.JSON(label="value")
            api_context = gr.Textbox(label="context")
            api_from, api_to = gr.Textbox(label="from_token"), gr.Textbox(label="to_token")
            api_strength = gr.Number(DEFAULT_IMPRINT_STRENGTH, label="strength")
            api_sequences = gr.Textbox(label="sequences")
            edit_button, connect_hidden, imprint_hidden = gr.Button(), gr.Button(), gr.Button()
            api_result = gr.JSON(label="result")

        # -- wiring ------------------------------------------------------------------------
        hidden = dict(api_visibility="private", show_progress="hidden")
        shown = [table, view, bars, texts, picture, edits, status, card, from_token, to_token]
        where = [context, weight_name, rows, head, first_col]
        gr.on([model_state.change, demo.load], show_model, [model_state, editing, *where],
              [editing, context, weight_name, rows, search, head, first_col, *shown], **hidden)
        gr.on([context.input, rows.input, head.input, first_col.release], on_view, [model_state, editing, *where],
              [editing, *shown], trigger_mode="always_last", **hidden)
        weight_name.input(on_weight, [model_state, editing, context, weight_name, head, first_col],
                          [editing, rows, search, head, first_col, *shown], **hidden)
        search.submit(search_rows, [model_state, editing, search, rows], rows, **hidden)
        acting = [model_state, editing, *shown]
        table.input(on_table_edit, [model_state, editing, *where, view, table], acting, **hidden)
        table.select(on_select, view, view, **hidden)
        for button, fn in ((undo_button, undo), (redo_button, redo), (reset_all_button, reset_all)):
            button.click(fn, [model_state, editing, *where], acting, **hidden)
        reset_cell_button.click(reset_cell, [model_state, editing, *where, view], acting, **hidden)
        reset_row_button.click(reset_row, [model_state, editing, *where, view], acting, **hidden)
        connect_button.click(draw_connection, [model_state, editing, *where, from_token, to_token, strength], acting, **hidden)
        picture.submit(connect_from_picture, [model_state, editing, *where, strength], acting, **hidden)
        imprint_button.click(imprint_sequences, [model_state, editing, *where, sequences, imprint_strength],
                             [*acting, imprint_result], **hidden)
        export_button.click(export, [model_state, editing], export_file, **hidden)
        picker.input(load_model, picker, model_state, **hidden)

        state_io = dict(outputs=[api_result, model_state, editing])
        edit_button.click(edit_weight_api, [api_name, api_index, api_value, api_context, model_state, editing],
                          api_name="edit_weight", **state_io)
        connect_hidden.click(connect_api, [api_from, api_to, api_strength, api_context, model_state, editing],
                             api_name="connect", **state_io)
        imprint_hidden.click(imprint_api, [api_sequences, api_strength, model_state, editing], api_name="imprint",
                             **state_io)
    return demo


if __name__ == "__main__":
    launch(build())
