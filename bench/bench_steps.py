"""How fast the two step-by-step views answer: the Forward pass tab and BPE merge by merge.

    python bench/bench_steps.py [--repeats 20] [--threads 1]

Forward pass: the tab's handler (``walk_view``: the walk and its HTML) for every shipped model on
the context the tab starts with (a chat prompt for the chat model), at the last step, and
``/walkthrough`` through HTTP on the default model (the tab served by another process, called with
gradio_client). BPE: the Tokenizers tab's handler (``learn_bpe_steps``: learning the merges and
drawing the last one) on the tab's example texts with its default number of merges, then the
worst input the server accepts (``bpe.MAX_TEXT_CHARS`` characters, ``bpe.MAX_MERGES`` merges), and
``/bpe_steps`` through HTTP. Target: each view under 1 s. One JSON line per figure: the median
and the slowest of ``--repeats`` runs.
"""

import argparse
import socket
import statistics
import subprocess
import sys
import time

import torch
from common import REPO, report, shakespeare_text

from tinylm import bpe
from tinylm.pretrained import list_pretrained, load_pretrained
from tinylm_app import tokenizers_tab, walkthrough_tab


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median, slowest) milliseconds of ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - started))
    return round(statistics.median(times), 1), round(max(times), 1)


CHAT = "<|im_start|>user<|im_sep|>What is 12 + 7?<|im_end|><|im_start|>assistant<|im_sep|>"  # the tab has no example


def forward_pass_views(repeats: int) -> None:
    for name in list_pretrained():
        ckpt = load_pretrained(name)
        context = walkthrough_tab.model_view(ckpt)["context"] or (CHAT if name == "chat" else "")
        n_steps = walkthrough_tab.walk_view(context, None, 1, ckpt)["step"]["maximum"]
        median, slowest = timed(lambda c=context, n=n_steps, m=ckpt: walkthrough_tab.walk_view(c, None, n, m), repeats)
        report("walkthrough_view_ms", median, slowest_ms=slowest, model=name, steps=n_steps,
               context_chars=len(context), repeats=repeats, target_ms=1000)


def bpe_views(repeats: int) -> None:
    for k, text in enumerate(tokenizers_tab.EXAMPLES):
        merges = tokenizers_tab.BPE_STEPS_DEFAULT
        median, slowest = timed(lambda t=text, n=merges: tokenizers_tab.learn_bpe_steps(t, n), repeats)
        report("bpe_steps_view_ms", median, slowest_ms=slowest, text=f"example {k}", chars=len(text),
               merges_asked=merges, repeats=repeats, target_ms=1000)
    names = (REPO / "tinylm" / "corpora" / "names.txt").read_text()
    for label, text in (("tiny_shakespeare", shakespeare_text()), ("names", names)):
        text = text[:bpe.MAX_TEXT_CHARS]
        median, slowest = timed(lambda t=text: tokenizers_tab.learn_bpe_steps(t, bpe.MAX_MERGES), max(3, repeats // 5))
        report("bpe_steps_view_ms", median, slowest_ms=slowest, text=f"{label}, the longest accepted", chars=len(text),
               merges_asked=bpe.MAX_MERGES, repeats=max(3, repeats // 5), target_ms=1000)
    steps = tokenizers_tab.learn_bpe_steps(text, bpe.MAX_MERGES)[0]
    median, slowest = timed(lambda: tokenizers_tab.bpe_step_html(steps, bpe.MAX_MERGES // 2), repeats)
    report("bpe_slider_move_ms", median, slowest_ms=slowest, text="names, the longest accepted", chars=len(text),
           merge=bpe.MAX_MERGES // 2, repeats=repeats, target_ms=1000)


SERVER = """
import sys, torch
sys.path.insert(0, {repo!r})
if {threads}:
    torch.set_num_threads({threads})
import gradio as gr
from tinylm_app import tokenizers_tab, walkthrough_tab

with gr.Blocks() as demo:
    tokenizers_tab.build()
    walkthrough_tab.build()
demo.queue().launch(server_port={port}, quiet=True)
"""


def through_http(repeats: int, threads: int | None) -> None:
    """The two tabs in their own process (as on a Space), called from this one."""
    from gradio_client import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = SERVER.format(repo=str(REPO), threads=threads or 0, port=port)
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):  # wait for it to listen
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:  # noqa: BLE001 (not up yet)
                time.sleep(0.5)
        else:
            raise SystemExit("the tabs did not start")
        context = "ROMEO:\nBut soft, what light through yonder "
        median, slowest = timed(lambda: client.predict(context, -1, api_name="/walkthrough"), repeats)
        report("walkthrough_http_ms", median, slowest_ms=slowest, model="shakespeare-char-gpt (the default)",
               repeats=repeats, target_ms=1000, server_threads=threads or "default")
        text = tokenizers_tab.EXAMPLES[1]
        median, slowest = timed(lambda: client.predict(text, tokenizers_tab.BPE_STEPS_DEFAULT, api_name="/bpe_steps"),
                                repeats)
        report("bpe_steps_http_ms", median, slowest_ms=slowest, text="example 1", chars=len(text),
               merges_asked=tokenizers_tab.BPE_STEPS_DEFAULT, repeats=repeats, target_ms=1000,
               server_threads=threads or "default")
    finally:
        server.terminate()
        server.wait()


parser = argparse.ArgumentParser()
parser.add_argument("--repeats", type=int, default=20)
parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
args = parser.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)

forward_pass_views(args.repeats)
bpe_views(args.repeats)
through_http(args.repeats, args.threads)
