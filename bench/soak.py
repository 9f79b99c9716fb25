"""Soak test: many visitors come and go; memory and disk must come back when they have left.

    python bench/soak.py                          # 300 visitors, idle timeout 30 s: ~6 min
    python bench/soak.py --visitors 100 --pages 10 --idle 20

The app (``app.demo``, with the Space's launch settings) is served in-process. Each visitor is a
``gradio_client`` session that reads the page's config, trains a tiny model for a few dozen
steps, edits a weight, imprints a sequence, asks for predictions, chats, and leaves without a
word (API clients never close their sessions: only the idle timeout frees them). ``--pages``
visitors come with a real browser (headless Chromium, when installed), load the page, wait for it
and close the tab (Gradio's unload frees their session at once). Four visitors at a time.

One JSON line after each hundred visitors, and one after the idle timeout: resident memory (after
a garbage collection and ``malloc_trim``, so memory the allocator merely keeps does not count),
bytes in Gradio's cache and tinylm's download folder, and the sessions still holding state. The
last line compares the end with the start: ``within_10_percent`` is the README's figure.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import REPO, report

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def rss_mb() -> float:
    """Resident memory of this process, after giving freed memory back to the system."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def folder_bytes(*folders: Path) -> int:
    total = 0
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in files:
                try:
                    total += os.path.getsize(os.path.join(root, name))
                except OSError:
                    pass
    return total


def visit(url: str, number: int) -> int:
    """One API visitor; returns the number of requests that crashed (no message, or a server fault)."""
    from gradio_client import Client

    client = Client(url, verbose=False)  # reads the page's config, as a page load does
    failures = 0
    rng = random.Random(number)
    calls = [
        ("/train", dict(dataset="alphabet", model="gpt", steps=rng.randint(20, 60), n_embd=16, n_layer=1,
                        n_head=2, batch_size=8, block_size=8)),
        ("/predict", dict(text="KLM", k=5)),
        ("/edit_weight", dict(name="lm_head.weight", index=[rng.randint(0, 20), rng.randint(0, 15)],
                              value=rng.uniform(-2, 2), context="KLM")),
        ("/imprint", dict(sequences="ABC\nXYZ", strength=4.0)),
        ("/generate", dict(text="K", max_new_tokens=10, temperature=0.8, top_k=0, top_p=1.0, seed=number)),
        ("/chat", dict(message="What is 2 + 3?", history=[])),
    ]
    for endpoint, kwargs in calls:
        for _ in range(20):  # the trainer may be busy with other visitors: wait a moment and retry
            try:
                client.predict(**kwargs, api_name=endpoint)
                break
            except Exception as err:  # noqa: BLE001
                message = str(err)
                if "busy" in message.lower():
                    time.sleep(0.5)
                    continue
                if not message.strip() or "verbose error" in message or "went wrong on the server" in message:
                    failures += 1  # a crash; a refusal with its reason (a tiny model's imprint...) is fine
                break
    return failures


def page_visits(url: str, n: int) -> int:
    """``n`` browser visits: load the page, wait for the app, close the tab. Returns those done."""
    if n <= 0 or not CHROMIUM.exists():
        return 0
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for _ in range(n):
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("text=Tokenizers", timeout=60_000)
            page.wait_for_timeout(1500)  # the page's load events run (model cards, first predictions)
            page.close()
        browser.close()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=300)
    parser.add_argument("--pages", type=int, default=10, help="browser visits (needs /usr/bin/chromium)")
    parser.add_argument("--idle", type=float, default=30.0, help="the session idle timeout for this run, in s")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--every", type=int, default=100, help="visitors between two measurements")
    args = parser.parse_args()

    cache = Path(tempfile.mkdtemp(prefix="tinylm-soak-cache-"))
    os.environ["GRADIO_TEMP_DIR"] = str(cache)  # Gradio's uploads and downloads, for this run only
    sys.path.insert(0, str(REPO))
    import tinylm_app.session as session

    session.SESSION_IDLE_SECONDS = args.idle  # read when app.py prepares the demo
    session.DOWNLOADS = Path(tempfile.mkdtemp(prefix="tinylm-soak-downloads-"))
    import app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session.launch(app.demo, prevent_thread_lock=True, server_port=port, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    downloads = session.DOWNLOADS
    holder = app.demo.state_holder

    def measure(label: str, visitors: int, failures: int) -> dict:
        held = sum(1 for s in list(holder.session_data.values()) if s.state_data)
        line = dict(rss_mb=round(rss_mb(), 1), disk_bytes=folder_bytes(cache, downloads),
                    sessions_holding_state=held, sessions_known=len(holder.session_data),
                    visitors=visitors, failures=failures)
        report(f"soak_{label}", line["rss_mb"], **{k: v for k, v in line.items() if k != "rss_mb"})
        return line

    # warm up as the load will run (lazy loads, caches, one memory arena per worker thread), then
    # let those sessions expire: "start" is an app that has served and is idle again
    with ThreadPoolExecutor(args.workers) as pool:
        list(pool.map(visit, [url] * args.workers, range(-args.workers, 0)))
    page_visits(url, 1 if args.pages else 0)
    time.sleep(args.idle + 5)
    start = measure("start", 0, 0)
    failures, done, started = 0, 0, time.monotonic()
    lock = threading.Lock()
    pages = threading.Thread(target=page_visits, args=(url, args.pages), daemon=True)
    pages.start()
    with ThreadPoolExecutor(args.workers) as pool:
        for batch in range(0, args.visitors, args.every):
            n = min(args.every, args.visitors - batch)
            for failed in pool.map(visit, [url] * n, range(batch, batch + n)):
                with lock:
                    failures += failed
            done += n
            measure("after_visitors", done, failures)
    pages.join()
    time.sleep(args.idle + 5)  # every visitor has left: the idle timeout frees their sessions
    end = measure("after_idle", done, failures)
    within = end["rss_mb"] <= 1.1 * start["rss_mb"] and end["disk_bytes"] <= 1.1 * max(start["disk_bytes"], 1)
    report("soak_summary", round(end["rss_mb"] / start["rss_mb"], 3), rss_start_mb=start["rss_mb"],
           rss_end_mb=end["rss_mb"], disk_start=start["disk_bytes"], disk_end=end["disk_bytes"],
           sessions_holding_state=end["sessions_holding_state"], visitors=done, failures=failures,
           minutes=round((time.monotonic() - started) / 60, 1), within_10_percent=within)
    app.demo.close()
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(downloads, ignore_errors=True)


if __name__ == "__main__":
    main()
