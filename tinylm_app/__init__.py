"""The Gradio tabs of the tinylm app: one module per tab, each with ``build() -> gr.Blocks``.

Each tab is layout and wiring only; every handler calls one tinylm function. A tab runs alone
with ``python -m tinylm_app.<module>``; ``app.py`` composes them and hands them one shared
per-session ``gr.State`` holding the session's current model.

Importing this package first makes sure ``import spaces`` can only ever mean the Hub's package.
Gradio imports ``spaces`` when it is imported itself and, on a Space (``SYSTEM=spaces``), wraps
every event with ``spaces.gradio_auto_wrap``. The repository's ``spaces/`` folder holds no Python
package, only one deployable Space per tab, but Python would still import it as an empty
*namespace* package named ``spaces`` wherever the Hub's package is not installed, and Gradio would
then fail on a Space with ``module 'spaces' has no attribute 'gradio_auto_wrap'``. Where that
would happen, ``import spaces`` is made to fail instead, exactly as it does in a folder without
``spaces/``. Where the Hub's package is installed, it wins over a namespace folder and nothing
is changed.
"""

import importlib.util
import sys


def _hide_the_spaces_folder() -> None:
    if "spaces" in sys.modules:  # already imported (by gradio, or the Hub's package on purpose)
        return
    spec = importlib.util.find_spec("spaces")
    if spec is not None and spec.origin is None:  # a namespace package: only folders, no code
        sys.modules["spaces"] = None  # `import spaces` now raises ImportError, which gradio expects


_hide_the_spaces_folder()
