"""How fast an edit shows up in the softmax: in-process, and through the Space's HTTP API.

    python bench/bench_edit.py [--edits 100] [--threads 1]

In-process: for each shipped model and a bigram counted from names, ``set_weight`` on a random
cell of the output layer followed by ``next_token_probs`` for a context (what the Weights tab
does before it draws anything). Target: <= 20 ms. Through HTTP: the Weights tab served by another
process and ``/edit_weight`` called ``--edits`` times with gradio_client on the default model
(each call also returns the top-10 before/after and a greedy continuation). Target: p95 <= 150 ms.
One JSON line per figure, with the settings, torch version and thread count.
"""

import argparse
import socket
import statistics
import subprocess
import sys
import time

import torch
from common import REPO, report

from tinylm.edit import bigram_checkpoint, set_weight
from tinylm.pretrained import list_pretrained, load_pretrained
from tinylm.sample import next_token_probs, prompt_ids

CONTEXTS = {"alphabet": "KLM", "names": "em", "phrases_pt": "eu gosto de", "tiny_shakespeare": "ROMEO:\nBut soft, what"}


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def in_process(name, ckpt, n, generator):
    model, tokenizer = ckpt.model, ckpt.tokenizer
    ids = prompt_ids(tokenizer, CONTEXTS.get(ckpt.info.get("dataset"), "a"))
    weight = "logits" if name.endswith("bigram-counts") else "lm_head.weight"
    rows, cols = model.get_parameter(weight).shape
    next_token_probs(model, ids)  # warm up
    times = []
    for _ in range(n):
        i, j = (int(torch.randint(rows, (1,), generator=generator)), int(torch.randint(cols, (1,), generator=generator)))
        started = time.perf_counter()
        set_weight(model, weight, (i, j), float(torch.randn(1, generator=generator)))
        next_token_probs(model, ids)
        times.append(1000 * (time.perf_counter() - started))
    report("edit_to_distribution_ms_p50", round(statistics.median(times), 3), model=name, weight=weight, edits=n,
           context_tokens=len(ids), target_ms=20)
    report("edit_to_distribution_ms_p95", round(percentile(times, 95), 3), model=name, weight=weight, edits=n,
           context_tokens=len(ids), target_ms=20)


SERVER = """
import sys, torch
sys.path.insert(0, {repo!r})
if {threads}:
    torch.set_num_threads({threads})
import gradio as gr
from tinylm_app import weights_tab


def echo(text: str) -> str:
    return text


with gr.Blocks() as demo:
    weights_tab.build()
    gr.api(echo, api_name="echo")  # the cost of the HTTP round trip alone, for comparison
demo.queue().launch(server_port={port}, quiet=True)
"""


def through_http(n, threads):
    """The tab in its own process (as on a Space), called from this one: no shared GIL."""
    from gradio_client import Client

    from tinylm_app import weights_tab

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
            raise SystemExit("the Weights tab did not start")
        echo = []
        for _ in range(n):
            started = time.perf_counter()
            client.predict("ROMEO:", api_name="/echo")
            echo.append(1000 * (time.perf_counter() - started))
        generator = torch.Generator().manual_seed(0)
        client.predict("lm_head.weight", [0, 0], 0.0, "ROMEO:", api_name="/edit_weight")  # loads the model
        times = []
        for _ in range(n):
            i, j = int(torch.randint(60, (1,), generator=generator)), int(torch.randint(32, (1,), generator=generator))
            started = time.perf_counter()
            client.predict("lm_head.weight", [i, j], round(float(torch.randn(1, generator=generator)), 4), "ROMEO:",
                           api_name="/edit_weight")
            times.append(1000 * (time.perf_counter() - started))
    finally:
        server.terminate()
        server.wait()
    model = weights_tab.current_model(None).name
    report("echo_http_ms_p50", round(statistics.median(echo), 1), calls=n, server_threads=threads or "default")
    report("edit_weight_http_ms_p50", round(statistics.median(times), 1), model=model, edits=n, target_ms=150,
           server_threads=threads or "default")
    report("edit_weight_http_ms_p95", round(percentile(times, 95), 1), model=model, edits=n, target_ms=150,
           server_threads=threads or "default")


parser = argparse.ArgumentParser()
parser.add_argument("--edits", type=int, default=100)
parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
args = parser.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)

generator = torch.Generator().manual_seed(0)
models = [(name, load_pretrained(name)) for name in list_pretrained()]
models.append(("names-bigram-counts", bigram_checkpoint("names")))
for name, ckpt in models:
    in_process(name, ckpt, max(args.edits, 200), generator)
through_http(args.edits, args.threads)
