"""The Tokenizers tab: one text, four tokenizers side by side (split | gpt2 | bpe | char).

Layout and wiring only: every handler calls ``tinylm.compare.compare_tokenizers`` and turns its
reports into coloured token spans. Also serves the ``/tokenize`` API. Run it alone with
``python -m tinylm_app.tokenizers_tab``.
"""

import html

import gradio as gr

from tinylm_app.session import launch
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
  UTF-8 bytes, shown here as `⟨f0 9f 98⟩`.

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


def _escape(text: str) -> str:
    """HTML-escape, and keep ``${`` and ``{{`` from reading as template syntax."""
    return html.escape(text).replace("$", "&#36;").replace("{", "&#123;").replace("}", "&#125;")


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
            listed = " ".join(f"<span class='unkword'>{_escape(show_whitespace(u))}</span>"
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
            out.append(f"<span class='gap'>{_escape(show_whitespace(gap))}</span>{_line_breaks(gap)}")
        css = "special" if span.special else "unk" if span.unknown else f"c{k % 5}"
        title = f"id {span.id}" + (" = <|unk|>: not in the vocabulary" if span.unknown else "")
        ids = f"<sub>{span.id}</sub>" if show_ids else ""
        out.append(f"<span class='tok {css}' title='{_escape(title)}'>{_escape(shown)}{ids}</span>")
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
        gr.Warning(_escape(str(err)))  # the modal renders HTML
        return [f"<div class='stats error'>{_escape(str(err))}</div>"] * len(COMPARE_KINDS)
    return [report_html(r, text, show_ids, int(vocab_size)) for r in reports]


def tokenize(text: str, kind: str = "gpt2", vocab_from: str = DEFAULT_VOCAB_FROM,
             vocab_size: int = DEFAULT_BPE_VOCAB) -> dict:
    """Tokenize ``text`` with one tokenizer ("split", "gpt2", "bpe" or "char").

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
            text = gr.Textbox(value=EXAMPLES[0], label="Text to tokenize", lines=6, max_lines=12, scale=3)
            with gr.Column(scale=1, min_width=260):
                vocab_from = gr.Dropdown(
                    [*datasets, THE_TEXT], value=DEFAULT_VOCAB_FROM if DEFAULT_VOCAB_FROM in datasets else THE_TEXT,
                    label="Vocabulary learned from", info="split, char and bpe learn from this; gpt2 brings its own")
                vocab_size = gr.Slider(BPE_VOCAB_MIN, BPE_VOCAB_MAX, value=DEFAULT_BPE_VOCAB, step=1,
                                       label="BPE vocabulary size", info="256 bytes + 5 special tokens + merges")
                show_ids = gr.Checkbox(label="show ids", value=False)
        gr.Examples(EXAMPLES, inputs=text, label="Try")
        columns = []
        with gr.Row(equal_height=False):
            for kind in COMPARE_KINDS:
                with gr.Column(min_width=240):
                    gr.Markdown(COLUMN_TITLES[kind])
                    columns.append(gr.HTML(css_template=TOKEN_CSS, js_on_load=None, elem_id=f"tokens-{kind}",
                                           elem_classes="token-column"))
        gr.Markdown(WHY_THEY_DIFFER)

        inputs = [text, vocab_from, vocab_size, show_ids]
        # always_last: while typing or dragging, skip to the latest input once the running call ends
        gr.on([text.change, vocab_from.change, vocab_size.change, show_ids.change, demo.load], compare, inputs,
              columns, show_progress="hidden", api_visibility="private", trigger_mode="always_last")
        gr.api(tokenize, api_name="tokenize")
    return demo


if __name__ == "__main__":
    launch(build())
