"""The README's code runs as written, top to bottom: its API snippet against the app, served here.

A newcomer copies the snippets in order; one that fails (an edit in Shakespeare's letters after the
snippet trained a names model, say) is a broken promise. Each ```python block that talks to the
app is run as it stands, the address swapped for this test's server.
"""

import re

import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text()
ADDRESS = "http://127.0.0.1:7860/"


def python_blocks(section: str) -> list[str]:
    """The ```python blocks of one README section (## heading), in order."""
    start = README.index(f"## {section}\n")
    end = README.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", README[start:end if end != -1 else None], re.S)


@pytest.fixture(scope="module")
def served_app(serve):
    import app

    return serve(app.demo)


def test_the_api_snippet_runs_top_to_bottom(served_app):
    [snippet] = python_blocks("API")
    assert ADDRESS in snippet
    namespace = {}
    exec(compile(snippet.replace(ADDRESS, served_app), "README.md (API)", "exec"), namespace)  # noqa: S102
    client = namespace["client"]
    assert client.predict(text="em", k=3, api_name="/predict")[0]["token"]  # the session kept its names model
