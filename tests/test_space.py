"""The app starts the way a Hugging Face Space starts it, and serves.

A Space runs ``python app.py`` with ``SYSTEM=spaces`` and ``SPACE_ID`` set. Gradio then imports the
Hub's ``spaces`` package and wraps every event with ``spaces.gradio_auto_wrap``, so the repository's
own ``spaces/`` folder must never be taken for that package: not where the package is missing
(Python would import the folder as an empty namespace package) and not where it is installed.
The Hub's package is stood in for by a copy of the few names Gradio uses, so the test needs no
download; the app must call *its* ``gradio_auto_wrap``. The datasets come from the package itself
(no ``TINYLM_DATA_DIR`` on a Space).
"""

import importlib.util
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port

HUB_SPACES = '''
"""A stand-in for the Hub's ``spaces`` package: the names Gradio 6 uses, each recording its call."""
import os

def gradio_auto_wrap(fn):
    with open(os.environ["WRAPPED_LOG"], "a") as log:
        log.write(getattr(fn, "__name__", "?") + "\\n")
    return fn
'''
HUB_SPACES_RELOADING = '''
def start_reload_server(prerun, postrun, stop_event, port=7887):
    stop_event.wait()
'''


def _stand_in(folder: Path) -> Path:
    package = folder / "spaces"
    (package / "reloading").mkdir(parents=True)
    (package / "__init__.py").write_text(HUB_SPACES)
    (package / "reloading" / "__init__.py").write_text(HUB_SPACES_RELOADING)
    info = folder / "spaces-0.51.3.dist-info"  # Gradio checks the version before its reloader starts
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: spaces\nVersion: 0.51.3\n")
    return folder


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited with {process.returncode}:\n{process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the app did not answer within {seconds} s")


@pytest.mark.parametrize("hub_package", ["not installed", "installed"])
def test_the_app_serves_on_a_space(hub_package, tmp_path):
    from gradio_client import Client

    real = importlib.util.find_spec("spaces")
    if hub_package == "not installed" and real is not None and real.origin is not None:
        pytest.skip("the Hub's spaces package is installed here; the other case covers it")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("TINYLM_DATA_DIR", "PYTHONPATH")}
    env.update(SYSTEM="spaces", SPACE_ID="tinylm/test", GRADIO_SERVER_NAME="127.0.0.1",
               GRADIO_SERVER_PORT=str(port), WRAPPED_LOG=str(tmp_path / "wrapped.log"))
    if hub_package == "installed":
        env["PYTHONPATH"] = str(_stand_in(tmp_path / "site"))
    process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for(url, process)
        client = Client(url, verbose=False)
        assert client.predict("hi there", "gpt2", "phrases_pt", 1024, api_name="/tokenize")["n_tokens"] == 2
        trained = client.predict(dataset="names", model="bigram", steps=5, api_name="/train")
        assert trained["steps"] == 5  # the names corpus ships in the package: no download
    finally:
        process.terminate()
        log = process.communicate(timeout=30)[0]
    assert "AttributeError" not in log and "has no attribute 'gradio_auto_wrap'" not in log
    wrapped = (tmp_path / "wrapped.log").read_text().split() if (tmp_path / "wrapped.log").exists() else []
    if hub_package == "installed":
        assert "tokenize" in wrapped  # Gradio wrapped the events with the Hub's package, not our folder
    else:
        assert wrapped == []


def test_each_tab_assembles_into_a_space_of_its_own(tmp_path):
    """``scripts/make_space.py`` makes a folder whose app.py builds the tab from its own copies."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from make_space import make_space, tabs
    finally:
        sys.path.remove(str(REPO / "scripts"))
    assert tabs() == ["chat", "inspect", "predict", "tokenizers", "train", "weights"]
    out = make_space("tokenizers", tmp_path / "space")
    assert (out / "README.md").read_text().startswith("---\ntitle:")
    env = {k: v for k, v in os.environ.items() if k not in ("TINYLM_DATA_DIR", "PYTHONPATH")}
    built = subprocess.run([sys.executable, "-c", "import app, tinylm; print(len(app.demo.fns), tinylm.__file__)"],
                           cwd=out, env=env, text=True, capture_output=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert str(out) in built.stdout  # the Space's own copy of the library, not the repository's
    with pytest.raises(ValueError, match="unknown tab"):
        make_space("nope", tmp_path / "other")
