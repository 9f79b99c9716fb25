"""The Tokenizers tab: one text, four tokenizers side by side (split | gpt2 | bpe | char).

Layout and wiring only: every handler calls ``tinylm.compare.compare_tokenizers`` and turns its
reports into coloured token spans. Also serves the ``/tokenize`` API. Run it alone with
``python -m tinylm_app.tokenizers_tab``.
"""


import gradio as gr
import pandas as pd

from tinylm import bpe
from tinylm.compare import (
    BPE_VOCAB_MAX,
    BPE_VOCAB_MIN,
    COMPARE_KINDS,
    TokenizationReport,
    compare_tokenizers,
    dataset_text,
    show_whitespace,
)
from tinylm.data import list_datasets
from tinylm_app.guard import Slider, examples
from tinylm_app.html import escape
from tinylm_app.limits import MAX_BPE_MERGES, MAX_TOKENIZE_CHARS
from tinylm_app.session import launch

THE_TEXT = "the text above"  # the "vocabulary from" choice that learns from the typed text itself
DEFAULT_VOCAB_FROM = "tiny_shakespeare"
DEFAULT_BPE_VOCAB = 1024
MAX_SHOWN_TOKENS = 2000  # per column; the counts always cover the whole text

EXAMPLES = [
    "The quick brown fox jumps over the lazy dog. A language model never sees letters: "
    "it sees the ids of the tokens a tokenizer cut the text into.",
    "Eu gosto de comer maçã com açúcar. A função do coração é bombear o sangue, não é?",
    'function greet(name) {\n\treturn `Hello, ${name}!`;\n}\nconsole.log(greet("world"));',
    "I ❤️ tokenizers 🤖🚀 我喜欢猫。日本語のテキストも読めます。Ünïcödé!",
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.",
]

COLUMN_TITLES = {
    "split": "**split**: whole words, split on spaces",
    "gpt2": "**gpt2**: GPT-2's 50k byte-level BPE",
    "bpe": "**bpe**: byte-level BPE trained on your corpus",
    "char": "**char**: one token per character",
}

WHY_THEY_DIFFER = """
### Why do they differ?
- **split** keeps whole words, so sequences are short, but its vocabulary is every word of the
  corpus (tens of thousands), and a word it never saw becomes `<|unk|>`: the model cannot read it.
- **char** needs only a few dozen ids, but every character is a token, so sequences are long
  (one token per character), and a character missing from the corpus is unknown too.
- **bpe** starts from the 256 bytes and repeatedly merges the most frequent neighbouring pair in
  *your* corpus: frequent words become one token, rare ones are spelled in chunks. Move the slider:
  more merges, fewer tokens. Try a corpus in another language and watch your text fall apart.
- **gpt2** is the same algorithm with 50,000 merges learned on WebText (mostly English web pages).
  Being byte-level, nothing is ever unknown: an emoji or a Chinese character is spelled as its
  UTF-8 bytes, shown here as `⟨f0 9f 98⟩`. These are GPT-2's exact ids: its one special token is
  `<|endoftext|>` (50256), and our chat tokens are plain text to it (`<|im_start|>` is 7 tokens).

Whitespace is shown as `·` (space), `↵` (newline) and `→` (tab). Faint text between tokens is
text the tokenizer dropped (split throws the spaces away). Hover a token to see its id.
"""

# alternating pastel backgrounds, dark text: readable in light and dark mode
TOKEN_CSS = """
.tokens { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 14px;
          line-height: 1.5; color: #1f2328; background: #fff; padding: 8px; border-radius: 8px;
          border: 1px solid #d0d7de; max-height: 30em; overflow-y: auto; }
.tok { display: inline-block; margin: 1px 1px; padding: 0 2px; border-radius: 3px;
       color: #1f2328; max-width: 100%; overflow-wrap: anywhere; }
.c0 { background: #ffd6d6; } .c1 { background: #d4f0d4; } .c2 { background: #d6e4ff; }
.c3 { background: #fff0c2; } .c4 { background: #ead6ff; }
.unk { outline: 2px dashed #cf222e; background: #ffe3e3; }
.special { background: #57606a; color: #fff; }
.unkword { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px;
           border: 1px dashed #cf222e; border-radius: 3px; padding: 0 3px; white-space: pre-wrap; }
.gap { color: #8c959f; }
sub { font-size: 10px; color: #57606a; margin-left: 1px; }
.stats { font-size: 14px; line-height: 1.7; margin-bottom: 6px; }
.stats b { font-size: 16px; }
.note { color: #57606a; font-size: 13px; }
.error { color: #cf222e; }
"""


def _line_breaks(raw: str) -> str:
    return "<br>" * raw.count("\n")  # after a "↵", so the tokens keep the text's lines


def _stats_html(report: TokenizationReport, asked_vocab: int) -> str:
    parts = [f"<b>{report.n_tokens:,}</b> tokens", f"<b>{report.chars_per_token:.2f}</b> chars/token",
             f"vocabulary <b>{report.vocab_size:,}</b>"]
    if report.kind == "bpe" and report.vocab_size < asked_vocab:
        parts[-1] += f" <span class='note'>(asked {asked_vocab:,}: the corpus ran out of pairs seen twice)</span>"
    if report.kind in ("split", "char"):
        what = "words" if report.kind == "split" else "characters"
        if report.unknown:
            listed = " ".join(f"<span class='unkword'>{escape(show_whitespace(u))}</span>"
                              for u in report.unknown[:12])
            more = f" and {len(report.unknown) - 12} more" if len(report.unknown) > 12 else ""
            parts.append(f"<span class='error'>{len(report.unknown)} unknown {what}</span>: {listed}{more}")
        else:
            parts.append(f"no unknown {what}")
    else:
        parts.append("byte-level: nothing is unknown")
    return "<div class='stats'>" + " · ".join(parts[:2]) + "<br>" + "<br>".join(parts[2:]) + "</div>"


def report_html(report: TokenizationReport, text: str, show_ids: bool, asked_vocab: int) -> str:
    """One column: the stats line, then each token as a coloured span with its id as a tooltip."""
    out, end = [], 0
    for k, (span, shown) in enumerate(zip(report.spans[:MAX_SHOWN_TOKENS], report.tokens)):
        if span.start > end:  # text no token covers (split drops whitespace)
            gap = text[end:span.start]
            out.append(f"<span class='gap'>{escape(show_whitespace(gap))}</span>{_line_breaks(gap)}")
        css = "special" if span.special else "unk" if span.unknown else f"c{k % 5}"
        title = f"id {span.id}" + (" = <|unk|>: not in the vocabulary" if span.unknown else "")
        ids = f"<sub>{span.id}</sub>" if show_ids else ""
        out.append(f"<span class='tok {css}' title='{escape(title)}'>{escape(shown)}{ids}</span>")
        out.append(_line_breaks(span.text) if span.end > end else "")  # byte pieces share one character
        end = max(end, span.end)
    if report.n_tokens > MAX_SHOWN_TOKENS:
        out.append(f"<span class='note'> … and {report.n_tokens - MAX_SHOWN_TOKENS:,} more tokens</span>")
    return _stats_html(report, asked_vocab) + "<div class='tokens'>" + "".join(out) + "</div>"


def _corpus(vocab_from: str, text: str) -> str:
    return text if vocab_from == THE_TEXT else dataset_text(vocab_from)


def compare(text: str, vocab_from: str, vocab_size: float, show_ids: bool) -> list[str]:
    """The four columns for the current inputs, or a warning and the reason in each column."""
    try:
        reports = compare_tokenizers(text, _corpus(vocab_from, text), vocab_size)
    except (ValueError, OSError) as err:  # CompareError, TokenizerError, a dataset file missing
        gr.Warning(escape(str(err)))  # the modal renders HTML
        return [f"<div class='stats error'>{escape(str(err))}</div>"] * len(COMPARE_KINDS)
    return [report_html(r, text, show_ids, int(vocab_size)) for r in reports]


def tokenize(text: str, kind: str = "gpt2", vocab_from: str = DEFAULT_VOCAB_FROM,
             vocab_size: int = DEFAULT_BPE_VOCAB) -> dict:
    """Tokenize ``text`` with one tokenizer ("split", "gpt2", "bpe", "char", or "gpt2-chat": GPT-2 + our chat tokens).

    split, char and bpe learn their vocabulary from ``vocab_from``: a dataset name or
    "the text above" (the text itself). Returns {kind, ids, tokens, n_tokens, chars_per_token,
    vocab_size, unknown}; tokens show whitespace as · ↵ → and stray bytes as ⟨f0 9f⟩.
    """
    try:
        return compare_tokenizers(text, _corpus(vocab_from, text), vocab_size, kinds=(kind,))[0].to_dict()
    except (ValueError, OSError) as err:
        raise gr.Error(str(err)) from err


def build(model_state=None) -> gr.Blocks:
    """The tab. ``model_state`` is unused (tokenizers need no model); kept so every tab builds alike."""
    datasets = list_datasets()
    with gr.Blocks(title="tinylm: tokenizers") as demo:
        gr.Markdown("A language model never reads letters: it reads the **ids** of tokens. "
                    "Type anything and see four tokenizers cut it up.")
        with gr.Row(equal_height=False):
            text = gr.Textbox(value=EXAMPLES[0], label="Text to tokenize", lines=6, max_lines=12, scale=3,
                              max_length=MAX_TOKENIZE_CHARS)
            with gr.Column(scale=1, min_width=260):
                vocab_from = gr.Dropdown(
                    [*datasets, THE_TEXT], value=DEFAULT_VOCAB_FROM if DEFAULT_VOCAB_FROM in datasets else THE_TEXT,
                    label="Vocabulary learned from", info="split, char and bpe learn from this; gpt2 brings its own")
                vocab_size = Slider(BPE_VOCAB_MIN, BPE_VOCAB_MAX, value=DEFAULT_BPE_VOCAB, step=1,
                                       label="BPE vocabulary size", info="256 bytes + 5 special tokens + merges")
                show_ids = gr.Checkbox(label="show ids", value=False)
        examples(EXAMPLES, text)
        columns = []
        with gr.Row(equal_height=False):
            for kind in COMPARE_KINDS:
                with gr.Column(min_width=240):
                    gr.Markdown(COLUMN_TITLES[kind])
                    columns.append(gr.HTML(css_template=TOKEN_CSS, js_on_load=None, elem_id=f"tokens-{kind}",
                                           elem_classes="token-column"))
        gr.Markdown(WHY_THEY_DIFFER)
        build_bpe_steps(text, demo)

        inputs = [text, vocab_from, vocab_size, show_ids]
        # always_last: while typing or dragging, skip to the latest input once the running call ends
        gr.on([text.change, vocab_from.change, vocab_size.change, show_ids.change, demo.load], compare, inputs,
              columns, show_progress="hidden", api_visibility="private", trigger_mode="always_last")
        gr.api(tokenize, api_name="tokenize")
    return demo


# ---------------------------------------------------------------------------------------------
# BPE merge by merge: the readable trainer of tinylm.bpe on the text above, one merge at a time

BPE_STEPS_HOW = """### BPE, merge by merge
The **bpe** column learns its merges with Hugging Face's fast Rust trainer. Here the same algorithm
runs in plain Python (`tinylm/bpe.py`, worth opening) on the text above alone: it starts from the
text's UTF-8 bytes, counts every pair of neighbouring tokens, merges the most frequent pair into a new
token, and repeats. Drag the slider to see the text after each merge. It learns the same merges, in
the same order, as the Rust trainer, so after the last merge the text is cut exactly as the **bpe**
column cuts it when it learns from "the text above" with 261 + that many tokens.
"""
BPE_STEPS_DEFAULT = 60


def _chips_html(tokens: list, new_token=None) -> str:
    """The text as token chips; the tokens the last merge made are outlined."""
    out = []
    for k, token in enumerate(tokens[:MAX_SHOWN_TOKENS]):
        css = "special" if isinstance(token, str) else f"c{k % 5}"
        mark = " style='outline: 2px solid #1f6feb'" if token == new_token else ""
        shown = bpe.show_token(token)
        out.append(f"<span class='tok {css}'{mark}>{escape(shown)}</span>{'<br>' * shown.count('↵')}")
    if len(tokens) > MAX_SHOWN_TOKENS:
        out.append(f"<span class='note'> … and {len(tokens) - MAX_SHOWN_TOKENS:,} more tokens</span>")
    return "<div class='tokens'>" + "".join(out) + "</div>"


def learn_bpe_steps(text: str, n_merges):
    """The merges learned on ``text``: the slider over them, the table of merges, the falling token count."""
    try:
        steps = bpe.bpe_steps(text, int(n_merges))
    except ValueError as err:  # said in place: this also runs as the text is typed
        return None, gr.update(maximum=1, value=0), pd.DataFrame(), pd.DataFrame({"merges": [], "tokens": []}), (
            f"<div class='stats error'>{escape(str(err))}</div>")
    table = pd.DataFrame({"merge": range(1, len(steps.merges) + 1),
                          "pair": [" + ".join(p) for p in steps.pairs_shown()], "seen": steps.counts,
                          "new token": [bpe.show_token(m.token) for m in steps.merges],
                          "tokens after": steps.tokens_per_step[1:]})
    curve = pd.DataFrame({"merges": range(len(steps.tokens_per_step)), "tokens": steps.tokens_per_step})
    last = len(steps.merges)
    return steps, gr.update(maximum=max(last, 1), value=last), table, curve, bpe_step_html(steps, last)


def bpe_step_html(steps, n) -> str:
    """The text after merge ``n``, and what that merge did."""
    if steps is None:
        return ""
    n = min(max(int(n), 0), len(steps.merges))
    count = steps.tokens_per_step[n]
    if n == 0:
        ran_out = len(steps.merges) < steps.asked
        what = (f"Before any merge: one token per byte, <b>{count:,}</b> tokens. {len(steps.merges)} merges were "
                f"learned" + (" (then no pair was left that occurs twice)." if ran_out else "."))
        return f"<div class='stats'>{what}</div>" + _chips_html(steps.tokens_after(0))
    m = steps.merges[n - 1]
    a, b = steps.pairs_shown()[n - 1]
    what = (f"Merge {n} of {len(steps.merges)}: <b>{escape(a)}</b> + <b>{escape(b)}</b> was the most frequent "
            f"pair, seen {m.count:,} times; it becomes token {m.new_id}, <b>{escape(bpe.show_token(m.token))}</b>. "
            f"The text is now <b>{count:,}</b> tokens ({steps.tokens_per_step[0] - count:,} fewer than its bytes).")
    return f"<div class='stats'>{what}</div>" + _chips_html(steps.tokens_after(n), m.token)


def bpe_steps_api(text: str, n_merges: int) -> dict:
    """Learn up to ``n_merges`` merges (``bpe.MAX_MERGES`` at most) from ``text`` itself, in plain Python.

    Returns {merges: [[a, b], ...], counts, tokens_per_step, tokens}; tokens are shown as /tokenize shows them.
    """
    try:
        n = int(n_merges) if isinstance(n_merges, float) and n_merges.is_integer() else n_merges
        return bpe.bpe_steps(text, n).to_dict()
    except ValueError as err:
        raise gr.Error(str(err)) from err


def build_bpe_steps(text: gr.Textbox, demo: gr.Blocks) -> None:
    """The section under the four columns: learn merges from ``text`` and step through them."""
    gr.Markdown(BPE_STEPS_HOW)
    steps = gr.State(None)
    with gr.Row():
        n_merges = Slider(0, MAX_BPE_MERGES, value=BPE_STEPS_DEFAULT, step=1, label="Merges to learn", scale=2)
        learn = gr.Button("Learn the merges", variant="primary", scale=1)
    # its maximum follows the merges learned; this one bounds what the server accepts
    merge = Slider(0, MAX_BPE_MERGES, value=BPE_STEPS_DEFAULT, step=1, label="The text after merge…",
                      elem_id="bpe-merge")
    view = gr.HTML(css_template=TOKEN_CSS, js_on_load=None, elem_id="bpe-steps")
    with gr.Row(equal_height=False):
        curve = gr.LinePlot(x="merges", y="tokens", label="Tokens in the text after each merge", height=260, scale=2)
        table = gr.Dataframe(label="The merges, in order", interactive=False, max_height=300, scale=3)
    hidden = dict(api_visibility="private", show_progress="hidden")
    gr.on([learn.click, n_merges.input, text.change, demo.load], learn_bpe_steps, [text, n_merges],
          [steps, merge, table, curve, view], trigger_mode="always_last", **hidden)
    merge.input(bpe_step_html, [steps, merge], view, trigger_mode="always_last", **hidden)
    gr.api(bpe_steps_api, api_name="bpe_steps")


if __name__ == "__main__":
    launch(build())
