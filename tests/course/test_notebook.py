"""mlkit.course.notebook: the one notebook normal form (cleaner script and exercise builder)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from mlkit.course import notebook

ROOT = Path(__file__).resolve().parents[2]


def _dirty() -> dict:
    nb = nbformat.v4.new_notebook()  # nbformat 4.5: cells get ids
    nb.cells = [nbformat.v4.new_markdown_cell("# Title", metadata={"tags": ["intro"], "jp-MarkdownHeadingCollapsed": True}),
                nbformat.v4.new_code_cell("x = 1\nx", metadata={"tags": ["parameters"], "scrolled": True,
                                                                "execution": {"iopub.status.busy": "2026"}})]
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=3)]
    nb.cells[1].execution_count = 3
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["papermill"] = {"duration": 1.5}
    return json.loads(nbformat.writes(nb))


def test_clean_keeps_only_the_stable_parts():
    nb = notebook.clean(_dirty())
    assert (nb.nbformat, nb.nbformat_minor) == notebook.NBFORMAT
    assert nb.metadata == {"kernelspec": notebook.KERNELSPEC, "language_info": {"name": "python"}}
    md, code = nb.cells
    assert md.metadata == {"tags": ["intro"]} and "id" not in md
    assert code.metadata == {"tags": ["parameters"]} and code.outputs == [] and code.execution_count is None
    assert code.source == "x = 1\nx"


def test_dumps_is_deterministic_and_a_fixed_point():
    text = notebook.dumps(notebook.clean(_dirty()))
    assert text.endswith("}\n") and '"outputs": []' in text and "widgets" not in text and "papermill" not in text
    assert text == notebook.dumps(notebook.clean(json.loads(text)))
    assert text == nbformat.writes(nbformat.reads(text, as_version=4)) + "\n", "nbformat's own layout"


def test_write_reports_whether_it_changed_the_file(tmp_path):
    nb = notebook.clean(_dirty())
    path = tmp_path / "nb.ipynb"
    assert notebook.write(nb, path) is True
    assert notebook.is_clean(path)
    assert notebook.write(nb, path) is False


@pytest.mark.parametrize("path", sorted(p for f in ("notebooks", "solutions", "exercises")
                                        for p in (ROOT / f).glob("*.ipynb")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_committed_notebook_is_in_normal_form(path):
    assert notebook.is_clean(path), f"{path} has outputs or run metadata: run make clean-notebooks"
