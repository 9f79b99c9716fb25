"""The Weights tab of tinylm as a Space of its own (assembled by scripts/make_space.py)."""

import tinylm_app  # noqa: F401  (first: makes `import spaces` mean the Hub's package; see its docstring)
from tinylm_app import weights_tab
from tinylm_app.session import launch

demo = weights_tab.build()

if __name__ == "__main__":
    launch(demo)
