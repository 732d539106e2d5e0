"""Put notebooks in the normal form: no outputs, no execution counts, only stable metadata
(``make clean-notebooks``). The normal form itself is :mod:`mlkit.course.notebook`, which
the exercise builder uses too, so cleaning never changes a generated exercises/ notebook.

    python scripts/clean_notebooks.py [--check] [PATH ...]   # default: every tracked notebook folder
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlkit.course import notebook

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "solutions", "exercises")


def clean(nb: dict) -> dict:
    """The notebook in normal form (see :func:`mlkit.course.notebook.clean`)."""
    return notebook.clean(nb)


def dumps(nb: dict) -> str:
    """The notebook's text in normal form (see :func:`mlkit.course.notebook.dumps`)."""
    return notebook.dumps(nb)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="report dirty notebooks, change nothing")
    args = parser.parse_args(argv)
    paths = args.paths or [p for f in FOLDERS for p in sorted((ROOT / f).glob("*.ipynb"))]
    dirty = []
    for path in paths:
        text = notebook.normal_text(path)
        if path.read_text(encoding="utf-8") != text:
            dirty.append(path)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    verb = "need cleaning (run: make clean-notebooks)" if args.check else "cleaned"
    for path in dirty:
        print(f"{path}: {verb}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
