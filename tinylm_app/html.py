"""The small HTML pieces every tab shares: escaping, a token's label, a progress bar, a model line.

Everything a visitor typed or a model wrote passes through ``escape`` before it reaches a
``gr.HTML``: that escapes HTML, and also ``$`` and braces, which ``gr.HTML`` would read as its
own template syntax. A token is shown with its whitespace made visible (``·`` a space, ``↵`` a
line break, ``→`` a tab; ``tinylm.compare.show_whitespace``), the same in every tab.
"""

from __future__ import annotations

import html

from tinylm.checkpoint import Checkpoint, describe_checkpoint
from tinylm.compare import show_whitespace

PROGRESS_CSS = """
.bar { height: 10px; border-radius: 5px; background: #e5e7eb; overflow: hidden; margin: 4px 0 6px; }
.bar > div { height: 100%; background: linear-gradient(90deg, #6366f1, #ec4899); transition: width .3s; }
.line { font-size: 14px; color: var(--body-text-color); font-variant-numeric: tabular-nums; }
.line b { font-weight: 600; }
.problems { font-size: 13px; color: #cf222e; margin-top: 4px; }
"""


def escape(text: str) -> str:
    """HTML-escape, and keep ``${`` and braces from reading as gr.HTML template syntax.

    >>> escape("<b>{x}</b> costs $5")
    '&lt;b&gt;&#123;x&#125;&lt;/b&gt; costs &#36;5'
    """
    return html.escape(text).replace("$", "&#36;").replace("{", "&#123;").replace("}", "&#125;")


def token_label(text: str) -> str:
    """A token as a visitor reads it: whitespace made visible, ∅ for the empty string.

    >>> token_label(" the\\n"), token_label("")
    ('·the↵', '∅')
    """
    return show_whitespace(text) or "∅"


def progress_html(fraction: float, line: str, problems: list[str] = ()) -> str:
    """A progress bar filled to ``fraction``, a status line under it (HTML), and problems in red."""
    shown = "".join(f"<div>⚠ {escape(p)}</div>" for p in problems[:10])
    more = f"<div>… and {len(problems) - 10} more</div>" if len(problems) > 10 else ""
    bad = f"<div class='problems'>{shown}{more}</div>" if problems else ""
    return (f"<div class='bar'><div style='width:{100 * min(max(fraction, 0), 1):.1f}%'></div></div>"
            f"<div class='line'>{line}</div>{bad}")


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an s when n is not 1.

    >>> plural(1, "step"), plural(1200, "step")
    ('1 step', '1,200 steps')
    """
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def model_line(ckpt: Checkpoint) -> str:
    """One Markdown line that says what a model is: name, kind, tokenizer, context, size."""
    d = describe_checkpoint(ckpt)
    return (f"**{escape(d['name'])}** · {d['model'].upper()} · {d['tokenizer']} tokenizer ({d['vocab_size']:,} "
            f"tokens) · context {d['block_size']} tokens · {d['params']:,} parameters")


def model_status(ckpt: Checkpoint) -> str:
    """What a learner must know before trusting the numbers: is the model still training, or edited?

    "" for a model at rest. The Train tab marks a live model ``info["training"]``; the Weights tab
    counts the weights changed by hand in ``info["edited_weights"]``, and then the val loss
    recorded at training time is no longer this model's.
    """
    info = ckpt.info
    if info.get("training"):
        return "⏳ **training now**: every view shows it as it is at this moment, and it changes as it learns."
    if info.get("edited_weights"):
        return (f"✎ **edited by hand** ({plural(int(info['edited_weights']), 'weight')} changed): the val loss "
                f"above was measured before the edits.")
    return ""
