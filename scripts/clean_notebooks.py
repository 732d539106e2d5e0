"""Strip outputs, execution counts and run metadata from notebooks (``make clean-notebooks``).

    python scripts/clean_notebooks.py [--check] [PATH ...]   # default: every tracked notebook folder
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlkit.exercises.build import KEEP_CELL_META, KERNELSPEC  # one normal form for all notebooks

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "solutions", "exercises")


def clean(nb: dict) -> dict:
    """The notebook with no outputs, no execution counts and only stable metadata."""
    for cell in nb["cells"]:
        meta = cell.get("metadata", {})
        cell["metadata"] = {k: v for k, v in meta.items() if k in KEEP_CELL_META}
        cell.pop("id", None)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    nb["metadata"] = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    nb["nbformat"], nb["nbformat_minor"] = 4, 4
    return nb


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="report dirty notebooks, change nothing")
    args = parser.parse_args(argv)
    paths = args.paths or [p for f in FOLDERS for p in sorted((ROOT / f).glob("*.ipynb"))]
    dirty = []
    for path in paths:
        text = path.read_text()
        cleaned = dumps(clean(json.loads(text)))
        if cleaned != text:
            dirty.append(path)
            if not args.check:
                path.write_text(cleaned)
    verb = "need cleaning (run: make clean-notebooks)" if args.check else "cleaned"
    for path in dirty:
        print(f"{path}: {verb}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
