"""Load test: the app served in-process, ten gradio_client sessions at once while one more trains.

    python bench/load_test.py                  # ~40 s; ends with one JSON line
    python bench/load_test.py --overhead       # ~8 min: what the live UI costs the trainer, one JSON line

The load test launches the app (``app.demo``, or the Train and Predict tabs composed when app.py is
missing) on a free port with the queue settings of ``tinylm_app.session.launch``. Each of ten sessions
first trains a tiny char model of its own on six letters nobody else uses (retrying while the
trainer is busy), then loops tokenize (when the app has it) / predict / generate on its own
letters until the long training ends. Meanwhile one more session trains a GPT through the
streaming ``/train_stream`` endpoint for ~20 s and then cancels it, as the Stop button does.

A session that ever got another session's model would fail: its own letters would be unknown to
that model, and a foreign letter would show up among its predictions. Both count as errors.

``--overhead`` measures what the UI costs: training tokens/s of the plain trainer
(``tinylm.runs.train_run``), of the Train tab's handler called directly (its val checks, samples,
chart tables and progress lines), and of the same handler served by Gradio to a client in another
process at the lowest priority (standing in for a browser on another machine), alternating the
three over several trials. It also times the handler's own UI work and Gradio's postprocessing of
one update, which a busy shared machine cannot blur.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
for var, value in [("GRADIO_ANALYTICS_ENABLED", "False"), ("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"),
                   ("HF_HUB_DISABLE_TELEMETRY", "1")]:
    os.environ.setdefault(var, value)
if (REPO.parent / "shared" / "data").is_dir():
    os.environ.setdefault("TINYLM_DATA_DIR", str(REPO.parent / "shared" / "data"))

import gradio as gr  # noqa: E402
import torch  # noqa: E402
from gradio_client import Client  # noqa: E402

SESSIONS = 10
TRAIN_SECONDS = 20.0  # how long the long training runs before it is cancelled
TINY = dict(steps=20, n_embd=16, n_layer=1, n_head=2, batch_size=8, block_size=8)  # each session's own model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_app() -> gr.Blocks:
    import app  # noqa: PLC0415  (after the environment defaults above)

    return app.demo


def serve(demo: gr.Blocks) -> str:
    port = free_port()
    demo.queue(default_concurrency_limit=4).launch(prevent_thread_lock=True, server_port=port, quiet=True)
    return f"http://127.0.0.1:{port}/"


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---------------------------------------------------------------------------------------------
# The load test


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.busy_retries = 0

    def call(self, client: Client, endpoint: str, **kwargs):
        started = time.perf_counter()
        try:
            result = client.predict(**kwargs, api_name=endpoint)
        except Exception as err:  # noqa: BLE001 (every failure is a finding)
            if "trainer is busy" in str(err):
                with self.lock:
                    self.busy_retries += 1
                return "busy"
            self.error(f"{endpoint}: {type(err).__name__}: {str(err)[:200]}")
            return None
        with self.lock:
            self.latencies.setdefault(endpoint, []).append(time.perf_counter() - started)
        return result

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


def session(url: str, index: int, letters: str, everyone: str, rec: Recorder, training_done: threading.Event,
            has_tokenize: bool) -> None:
    """Train a model on our own letters, then use it until the long training is over."""
    client = Client(url, verbose=False)
    words = [letters[i:] + letters[:i] for i in range(len(letters))]
    corpus = " ".join(words * 40)
    while rec.call(client, "/train", text=corpus, **TINY) == "busy":
        time.sleep(0.5)
    foreign = set(everyone) - set(letters)
    n = 0
    while not training_done.is_set() or n < 3:
        prompt = words[n % len(words)]
        if has_tokenize:
            rec.call(client, "/tokenize", text=prompt, kind="gpt2")
        candidates = rec.call(client, "/predict", text=prompt, k=5)
        if candidates is not None and foreign & {c["token"] for c in candidates}:
            rec.error(f"session {index} predicted another session's letters")
        answer = rec.call(client, "/generate", text=prompt, max_new_tokens=20, temperature=0.8, top_k=0, top_p=1.0,
                          seed=n)
        if answer is not None and foreign & set(answer["continuation"]):
            rec.error(f"session {index} generated another session's letters")
        n += 1


def long_training(url: str, rec: Recorder, training_done: threading.Event, result: dict,
                  started_event: threading.Event) -> None:
    """One visitor trains a GPT through the streaming endpoint the Train button uses, then stops it."""
    try:
        _long_training(url, rec, result, started_event)
    except Exception as err:  # noqa: BLE001
        rec.error(f"long training: {type(err).__name__}: {err}")
    finally:
        started_event.set()
        training_done.set()


def _long_training(url: str, rec: Recorder, result: dict, started_event: threading.Event) -> None:
    client = Client(url, verbose=False)
    greek = "αβγδεζηθικλμνξοπρστυφχψω"
    fields = dict(source="paste", dataset="alphabet", upload=None, text=(greek + " ") * 400, tokenizer="char",
                  vocab_size=0, model="gpt", block_size=32, n_embd=64, n_hidden=64, n_layer=2, n_head=4,
                  budget="steps", steps=20_000, batch_size=16, learning_rate=3e-3)
    started = time.perf_counter()
    job = client.submit(*fields.values(), api_name="/train_stream")  # undocumented: positional arguments
    last = None
    while time.perf_counter() - started < TRAIN_SECONDS and not job.done():
        outputs = job.outputs()
        last = outputs[-1] if outputs else last
        if last and "tokens/s" in (last[0] or ""):
            started_event.set()  # training runs: let the other sessions in
        time.sleep(0.25)
    if job.done() and job.exception():
        raise RuntimeError(f"the long training failed: {job.exception()}")
    job.cancel()  # the Stop button: the session keeps the model trained so far
    time.sleep(1.0)
    last = (job.outputs() or [last])[-1]
    progress = last[0] if last else ""
    speed = re.search(r"([\d,]+) tokens/s", progress or "")
    step = re.search(r"step <b>([\d,]+)</b>", progress or "")
    result["trainer_tokens_per_s"] = int(speed.group(1).replace(",", "")) if speed else None
    result["trainer_steps"] = int(step.group(1).replace(",", "")) if step else None
    result["trainer_seconds"] = round(time.perf_counter() - started, 1)
    candidates = rec.call(client, "/predict", text="αβγ", k=3)  # its own model, kept after the stop
    if candidates is None:
        rec.error("the long training's session lost its model after the stop")


def load_test() -> dict:
    demo = build_app()
    url = serve(demo)
    has_tokenize = "/tokenize" in Client(url, verbose=False).view_api(return_format="dict", print_info=False)[
        "named_endpoints"]
    alone = Recorder()  # one client, nothing else running: the latency floor
    client = Client(url, verbose=False)
    for _ in range(10):
        alone.call(client, "/predict", text="", k=5)
        alone.call(client, "/generate", text="", max_new_tokens=20, temperature=0.8, top_k=0, top_p=1.0, seed=0)
    rec, training_done, training_started, trainer = Recorder(), threading.Event(), threading.Event(), {}
    alphabet = "".join(chr(0x0410 + i) for i in range(6 * SESSIONS))  # 60 Cyrillic letters, 6 per session
    first = threading.Thread(target=long_training, args=(url, rec, training_done, trainer, training_started))
    first.start()
    training_started.wait(timeout=60)  # the long training holds one of the two slots before the rush
    threads = [first]
    threads += [threading.Thread(target=session, args=(url, i, alphabet[6 * i:6 * i + 6], alphabet, rec,
                                                       training_done, has_tokenize)) for i in range(SESSIONS)]
    started = time.perf_counter()
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(timeout=300)
    wall = time.perf_counter() - started
    demo.close()
    endpoints = {name: {"count": len(v), "p50_ms": round(1000 * percentile(v, 0.5)),
                        "p95_ms": round(1000 * percentile(v, 0.95))} for name, v in sorted(rec.latencies.items())}
    return {"sessions": SESSIONS, "wall_s": round(wall, 1), "requests": sum(len(v) for v in rec.latencies.values()),
            "errors": len(rec.errors), "error_samples": rec.errors[:5], "busy_retries": rec.busy_retries,
            "endpoints": endpoints, "alone_p50_ms": {k: round(1000 * percentile(v, 0.5)) for k, v in alone.latencies.items()},
            **trainer, "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "cpus": os.cpu_count(), "gradio": gr.__version__}


# ---------------------------------------------------------------------------------------------
# What the live UI costs the trainer


CONFIGS = {
    # the tab's defaults for names: a char MLP, fast steps (the UI's cost shows most here)
    "names-mlp": dict(source="dataset", dataset="names", upload=None, text="", tokenizer="char", vocab_size=0,
                      model="mlp", block_size=3, n_embd=64, n_hidden=256, n_layer=2, n_head=4, budget="steps",
                      steps=2000, batch_size=32, learning_rate=3e-3),
    # the tab's defaults for tiny_shakespeare: a char GPT reading 64 characters
    "shakespeare-gpt": dict(source="dataset", dataset="tiny_shakespeare", upload=None, text="", tokenizer="char",
                            vocab_size=0, model="gpt", block_size=64, n_embd=64, n_hidden=256, n_layer=2, n_head=4,
                            budget="30 s", steps=500, batch_size=32, learning_rate=3e-3),
}


def raw_tokens_per_s(fields: dict) -> float:
    from tinylm_app.train_tab import _parse_fields  # noqa: PLC0415
    from tinylm.predict import app_corpus, app_run_config  # noqa: PLC0415
    from tinylm.runs import prepare_run, train_run  # noqa: PLC0415

    parsed = _parse_fields(*(fields[k] for k in ("tokenizer", "vocab_size", "model", "block_size", "n_embd", "n_hidden",
                                                  "n_layer", "n_head", "budget", "steps", "batch_size",
                                                  "learning_rate")))
    corpus = app_corpus(fields["source"], fields["dataset"], None, fields["text"])
    run = prepare_run(app_run_config(corpus, **parsed), corpus)
    for metrics in train_run(run):
        pass
    return metrics["tokens_per_s"]


def handler_tokens_per_s(fields: dict, spent: dict) -> float:
    from tinylm_app.train_tab import train  # noqa: PLC0415
    from tinylm.checkpoint import Checkpoint  # noqa: PLC0415

    ckpt = None
    for outputs in train(**fields, ckpt=None):
        ckpt = outputs[0] if isinstance(outputs[0], Checkpoint) else ckpt
    spent["elapsed"] = spent.get("elapsed", 0.0) + ckpt.metrics[-1]["elapsed"]
    return ckpt.metrics[-1]["tokens_per_s"]


# a browser elsewhere: a separate client process at the lowest priority, so that decoding the
# stream does not take CPU from the server the way an in-process client would
CLIENT = """
import json, sys
from gradio_client import Client
job = Client(sys.argv[1], verbose=False).submit(*json.loads(sys.argv[2]), api_name="/train_stream")
updates = sum(1 for _ in job)
print(json.dumps([updates, job.outputs()[-1][0]]))
"""


def served_tokens_per_s(url: str, fields: dict) -> tuple[float, int]:
    args = [sys.executable, "-c", CLIENT, url, json.dumps(list(fields.values()))]  # /train_stream: positional
    out = subprocess.run(args, capture_output=True, text=True, check=True, preexec_fn=lambda: os.nice(19))
    updates, progress = json.loads(out.stdout.strip().splitlines()[-1])
    return float(re.search(r"([\d,]+) tokens/s", progress).group(1).replace(",", "")), updates


def serialize_ms_per_update(demo: gr.Blocks) -> float:
    """What Gradio does with one update of the Train button's stream: postprocess and JSON, in ms."""
    from tinylm_app import train_tab  # noqa: PLC0415
    from tinylm.plots import loss_frame  # noqa: PLC0415

    fn = next(f for f in demo.fns.values() if f.api_name == "train_stream")
    history = [{"step": s, "train_loss": 3.0 / s**0.2, "val_loss": 2.0 if s % 200 == 0 else None} for s in range(1, 5001)]
    values = [None, train_tab._progress_html(0.5, "step <b>5,000</b> / 10,000 · 200,000 tokens/s"), loss_frame(history),
              train_tab._sample_html("abcdefghij\n" * 10, "What it writes after 5,000 steps")]
    started = time.perf_counter()
    for _ in range(100):
        payload = [c.postprocess(v) for c, v in zip(fn.outputs, values) if not c.stateful]
        json.dumps([p.model_dump() if hasattr(p, "model_dump") else p for p in payload])
    return (time.perf_counter() - started) * 10


def timed(module, name: str, spent: dict) -> None:
    """Wrap ``module.name`` so the seconds spent in it add up in ``spent[name]``."""
    inner = getattr(module, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - started
    setattr(module, name, wrapper)


def overhead(trials: int) -> dict:
    import tinylm.predict  # noqa: PLC0415
    from tinylm_app import train_tab  # noqa: PLC0415

    demo = train_tab.build()
    url = serve(demo)
    report = {}
    for name, fields in CONFIGS.items():
        raw_tokens_per_s({**fields, "steps": 5})  # warm up: data loading, first-step allocations
        runs = {"raw": [], "handler": [], "served": []}
        updates, spent = [], {}
        for _ in range(trials):  # alternate, so a busy neighbour on the machine hits all three alike
            runs["raw"].append(raw_tokens_per_s(fields))
            # the UI's own work inside the handler: val checks, samples, chart tables, progress lines
            originals = {(m, f): getattr(m, f) for m, f in [(tinylm.predict, "evaluate"), (tinylm.predict, "sample_text"),
                                                            (train_tab, "loss_frame"), (train_tab, "_show_update")]}
            for module, function in originals:
                timed(module, function, spent)
            try:
                runs["handler"].append(handler_tokens_per_s(fields, spent))
            finally:
                for (module, function), original in originals.items():
                    setattr(module, function, original)
            speed, n = served_tokens_per_s(url, fields)
            runs["served"].append(speed)
            updates.append(n)
        med = {k: statistics.median(v) for k, v in runs.items()}
        best = {k: max(v) for k, v in runs.items()}
        paired = {k: statistics.median(1 - x / r for x, r in zip(runs[k], runs["raw"])) for k in ("handler", "served")}
        elapsed = spent.pop("elapsed")
        report[name] = {"tokens_per_s": {k: [round(x) for x in v] for k, v in runs.items()},
                        "median": {k: round(v) for k, v in med.items()}, "best": {k: round(v) for k, v in best.items()},
                        "overhead_pct_of_best": {k: round(100 * (1 - best[k] / best["raw"]), 1) for k in ("handler", "served")},
                        "overhead_pct_paired_median": {k: round(100 * v, 1) for k, v in paired.items()},
                        "ui_work_pct_of_handler_time": {k: round(100 * v / elapsed, 2) for k, v in spent.items()},
                        "ui_updates_per_run": updates}
    serialize_ms = serialize_ms_per_update(demo)
    demo.close()
    return {"overhead": report, "serialize_ms_per_update": round(serialize_ms, 2),
            "serialize_pct_at_3_updates_per_s": round(100 * 3 * serialize_ms / 1000, 2), "trials": trials,
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--overhead", action="store_true", help="measure what the live UI costs training throughput")
    parser.add_argument("--trials", type=int, default=5, help="--overhead: trials per configuration")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(json.dumps(overhead(args.trials) if args.overhead else load_test()), flush=True)
