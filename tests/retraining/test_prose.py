import json

from mlkit.retraining import prose


def test_words_count_markdown_only(tmp_path):
    nb = {"cells": [{"cell_type": "markdown", "source": ["# A title\n", "Two words, `code` too."]},
                    {"cell_type": "code", "source": ["x = 1  # not prose"]}]}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    assert prose.words(path) == 6  # A, title, Two, words, code, too


def test_lesson_06_has_enough_prose():
    assert prose.lesson_words("06_retraining") >= 1200
