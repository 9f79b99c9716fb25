"""Assemble one tab of tinylm as a folder ready to push as a Hugging Face Space.

    python scripts/make_space.py train out/space-train

The folder gets the tab's ``spaces/<tab>/app.py`` and ``README.md`` (the Space's front matter) at
its root, next to copies of the library it imports (``tinylm/``, ``tinylm_app/``,
``datasets_cfg/``), ``requirements.txt`` and ``.gitattributes`` (which sends the weights to LFS).
"""

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COPIED = ("tinylm", "tinylm_app", "datasets_cfg", "requirements.txt", ".gitattributes")
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc")


def tabs() -> list[str]:
    return sorted(p.parent.name for p in (REPO / "spaces").glob("*/app.py"))


def make_space(tab: str, out: Path) -> Path:
    """Copy ``tab``'s Space into ``out`` (which must not exist yet) and return ``out``."""
    if tab not in tabs():
        raise ValueError(f"unknown tab {tab!r}; tabs: {', '.join(tabs())}")
    if out.exists():
        raise FileExistsError(f"{out} exists; give a new folder")
    out.mkdir(parents=True)
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=SKIPPED)
        else:
            shutil.copy2(source, out / name)
    for name in ("app.py", "README.md"):
        shutil.copy2(REPO / "spaces" / tab / name, out / name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tab", choices=tabs())
    parser.add_argument("out", type=Path, help="a new folder")
    args = parser.parse_args()
    try:
        print(make_space(args.tab, args.out))
    except (ValueError, FileExistsError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
