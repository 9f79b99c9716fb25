"""How the Weights tab draws a ``WeightsView``: pure functions from the library's data to HTML.

The next-token bars (grey before the last change, blue after), the greedy and sampled
continuations, the network picture as SVG (``static/weights.js`` makes its circles draggable and
clickable), the weight table as a coloured DataFrame, the list of edits, the model card, the status
line and the imprint report. Nothing here computes a probability: ``tinylm.edit.weights_view`` did.
"""

from __future__ import annotations

import pandas as pd

from tinylm.checkpoint import Checkpoint
from tinylm.edit import Change, EditSession, ImprintReport, WeightsView
from tinylm.edit.view import MOVED, SAMPLE_SEED
from tinylm_app.html import escape, model_line, plural

ROW_HEADER = "row ↓ col →"


def model_card(ckpt: Checkpoint) -> str:
    """The model being edited (Markdown): the shared model line, its data and val loss, the weights edited."""
    info, n = ckpt.info, ckpt.info.get("edited_weights", 0)
    data = f" · from *{escape(info['dataset'])}*" if info.get("dataset") else ""
    val = f" · val loss {info['val_loss']:.3f}" if isinstance(info.get("val_loss"), (int, float)) else ""
    return f"**Editing:** {model_line(ckpt)}{data}{val} · " + (f"**{plural(n, 'weight')} edited**" if n else "unedited")


def bars(view: WeightsView) -> str:
    """The top next tokens: a grey bar for before the change, a blue one for after."""
    if view.after is None:
        return f"<div class='error'>⚠ {escape(view.error)}</div>"
    scale = max([max(b.before, b.after) for b in view.bars] + [1e-9])
    rows = []
    for bar in view.bars:
        moved = view.before is not None and abs(bar.after - bar.before) >= MOVED
        up = bar.after > bar.before
        arrow = f" <span class='{'up' if up else 'down'}'>{'▲' if up else '▼'}</span>"
        number = f"{bar.before:.1%} → {bar.after:.1%}{arrow}" if moved else f"{bar.after:6.1%}"
        rows.append(f"<div class='row' title='id {bar.id}'><span class='tok'>{escape(bar.label)}</span>"
                    f"<span class='track'><span class='before' style='width:{100 * bar.before / scale:.1f}%'></span>"
                    f"<span class='after' style='width:{100 * bar.after / scale:.1f}%'></span></span>"
                    f"<span class='num'>{number}</span></div>")
    legend = ("<div class='legend'>next-token probabilities:<span class='swatch' style='background:#c7cdd6'></span>"
              "before the last change<span class='swatch' style='background:#2563eb'></span>after</div>")
    return f"<div class='bars'>{legend}{''.join(rows)}</div>"


def texts(view: WeightsView) -> str:
    """The greedy and the sampled continuation, with the ones from before the change if they differ."""
    if view.after is None:
        return ""

    def shown(text):  # line breaks as ↵ keep a names model's "a↵a↵" on one compact line
        return escape(text.replace("\n", "↵ "))

    def block(label, key):
        after, before = getattr(view.after, key), view.before and getattr(view.before, key)
        old = f"<pre class='before'>before: {shown(before)}</pre>" if before is not None and before != after else ""
        new = f"<pre><span class='ctx'>{shown(view.context)}</span>{shown(after)}</pre>"
        return f"<div class='label'>{label}</div>{new}{old}"

    return (f"<div class='texts'>{block('greedy continuation (always the likeliest token)', 'greedy')}"
            f"{block(f'sampled continuation (temperature 1, seed {SAMPLE_SEED})', 'sampled')}</div>")


PICTURE_HINT = ("<div class='pic-hint'>Click a context token (left), then a next token (right), to add the "
                "strength below to that connection; drag circles to move them. Blue pushes a token up, orange "
                "down; width = strength.</div>")
X_IN, X_OUT, WIDTH, R, GAP = 130, 350, 480, 20, 50  # the picture's geometry, in SVG units


def picture(view: WeightsView) -> str:
    """The network as SVG: context tokens left, likeliest next tokens right, an edge per pair."""
    pic = view.picture
    if pic is None:
        return f"<div class='pic'>{PICTURE_HINT}</div>"
    n = max(len(pic.inputs), len(pic.outputs))
    strongest = max((abs(s) for row in pic.strengths for s in row), default=1.0) or 1.0

    def y(i, count):
        return 24 + GAP * (i + (n - count) / 2) + GAP / 2

    edges = []
    for i, (node, row) in enumerate(zip(pic.inputs, pic.strengths)):
        for j, (out, s) in enumerate(zip(pic.outputs, row)):
            y1, y2, mid, share = y(i, len(pic.inputs)), y(j, len(pic.outputs)), (X_IN + X_OUT) / 2, abs(s) / strongest
            edges.append(f"<path class='edge' data-in='{node.position}' data-out='{out.id}' d='M{X_IN + R},{y1:.1f} "
                         f"C{mid},{y1:.1f} {mid},{y2:.1f} {X_OUT - R},{y2:.1f}' "
                         f"stroke='{'#2563eb' if s >= 0 else '#ea580c'}' "
                         f"stroke-width='{1 + 9 * share:.2f}' stroke-opacity='{0.2 + 0.8 * share:.2f}'>"
                         f"<title>{escape(f'{node.label} → {out.label}: {s:+.2f}')}</title></path>")
    nodes = [_node("in", node, X_IN, y(i, len(pic.inputs)), "#e0e7ff") for i, node in enumerate(pic.inputs)]
    nodes += [_node("out", node, X_OUT, y(j, len(pic.outputs)), f"rgba(37, 99, 235, {0.12 + 0.75 * node.prob:.2f})")
              for j, node in enumerate(pic.outputs)]
    titles = "".join(f"<text x='{x}' y='14' text-anchor='middle' style='font-size:12px;fill:#57606a'>{t}</text>"
                     for x, t in ((X_IN, "context (what it reads)"), (X_OUT, "next token (probability)")))
    return (f"<div class='pic'><svg viewBox='0 0 {WIDTH} {40 + GAP * n}' data-r='{R}' xmlns='http://www.w3.org/2000/svg'>"
            f"{titles}{''.join(edges)}{''.join(nodes)}</svg>{PICTURE_HINT}</div>")


def _node(side: str, node, x: float, y: float, fill: str) -> str:
    """One circle: the token's first three characters inside, the rest and its note beside it."""
    label = escape(node.label)
    short, rest = label[:3], label if len(label) > 3 else ""
    if side == "in":
        beside = f"<text x='-{R + 8}' dy='4.5' text-anchor='end' style='fill:#57606a;font-size:11px'>{node.note}" \
                 f"{': ' + rest if rest else ''}</text>"
        where = f"data-pos='{node.position}' "
    else:
        beside, where = f"<text x='{R + 8}' dy='4.5'>{rest} {node.note}</text>", ""
    return (f"<g class='node' data-side='{side}' {where}data-id='{node.id}' data-label='{label}' data-x='{x}' "
            f"data-y='{y:.1f}' transform='translate({x},{y:.1f})'><circle r='{R}' fill='{fill}'/>"
            f"<text text-anchor='middle' dy='4.5'>{short}</text>{beside}</g>")


def styled_table(view: WeightsView):
    """The weight slice as a styled DataFrame: colour = sign and size; the marked rows in yellow."""
    table = view.table
    values = table.shown()
    columns = [f"{label} #{i}" if table.col_labels.count(label) > 1 or label == ROW_HEADER else label
               for label, i in zip(table.col_labels, table.cols)]  # a table needs each column name once
    frame = pd.DataFrame(values, columns=columns)
    frame.insert(0, ROW_HEADER, table.row_labels)
    biggest = max((abs(v) for row in values for v in row), default=0.0) or 1.0

    def colours(data: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=data.index, columns=data.columns)
        for i, row in enumerate(values):
            bold = "; font-weight: 700" if i in table.marked else ""
            css.iloc[i, 0] = ("background-color: #fde68a" if i in table.marked else "font-weight: 600") + bold
            for j, v in enumerate(row):
                rgb = "37, 99, 235" if v >= 0 else "234, 88, 12"
                alpha = 0.06 + 0.5 * min(abs(v) / biggest, 1.0)
                css.iloc[i, j + 1] = f"background-color: rgba({rgb}, {alpha:.2f}){bold}"
        return css

    return frame.style.apply(colours, axis=None)


def edits_frame(session: EditSession) -> pd.DataFrame:
    """One row per change in force: what it was, and its first edit (name[index]: old → new)."""
    rows = [[n, change.what, change.edits[0].name, ", ".join(map(str, change.edits[0].index)),
             f"{change.edits[0].old:.4g} → {change.edits[0].new:.4g}"
             + (f" (+{len(change.edits) - 1:,} more)" if len(change.edits) > 1 else ""), len(change.edits)]
            for n, change in enumerate(session.history, 1)]
    return pd.DataFrame(rows, columns=["#", "change", "weight", "index", "old → new", "weights changed"])


def status_line(change: Change | None, view: WeightsView) -> str:
    """One line about the last change: what it did, and the next token that moved most."""
    if change is None:
        return ""
    what, n = "`" + change.what.replace("`", "ˋ").replace("\n", "↵") + "`", len(change.edits)
    if not n:
        return f"Nothing changed: {what} (the weights already had those values)."
    line = f"✓ {what}: {n:,} weight{'s' if n != 1 else ''} changed"
    if view.moved is not None:
        moved = view.moved
        return line + f" · after this context, `{moved.label}` moved most: **{moved.before:.1%} → {moved.after:.1%}**"
    return line + (" · the prediction after this context did not move" if view.before is not None else "")



def imprint_result(report: ImprintReport) -> str:
    """Each sequence's greedy reproduction, how many weights it took, and the val loss before and after."""
    rows = "".join(
        f"<tr><td><code>{escape(r.sequence)}</code></td><td><code>{escape(r.greedy)}</code></td>"
        f"<td class='{'ok' if r.ok else 'no'}'>{'✓ reproduced' if r.ok else '✗ not reproduced'}</td></tr>"
        for r in report.imprint.reproduced)
    loss = "<p>No validation text for this model's data, so the price in loss is not measured.</p>"
    if report.val_loss_before is not None:
        delta = report.val_loss_after - report.val_loss_before
        loss = (f"<p>Loss on the dataset's validation text ({report.val_tokens:,} tokens): "
                f"<b>{report.val_loss_before:.3f} → {report.val_loss_after:.3f}</b> "
                f"(<span class='{'down' if delta > 0.001 else 'up'}'>{delta:+.3f}</span> nats per token): "
                f"the price of remembering these.</p>")
    conflicts = "".join(f"<li>{escape(c)}</li>" for c in report.imprint.conflicts)
    conflicts = f"<p>Greedy generation can follow a context one way only:</p><ul>{conflicts}</ul>" if conflicts else ""
    head = "<tr><th>sequence</th><th>greedy, after its first token</th><th></th></tr>"
    return (f"<div class='imprint'><table>{head}{rows}"
            f"</table><p>{report.imprint.pairs} (context → next token) pairs written into "
            f"{len(report.imprint.change.edits):,} weights.</p>{loss}{conflicts}</div>")
