"""``python -m tinylm ...``: see tinylm/cli.py."""

from .cli import main

main()
