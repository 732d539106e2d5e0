"""ANSI stripping, the one definition (runner, browser tests, DVC output)."""

import pytest

from mlkit.course.text import strip_ansi


@pytest.mark.parametrize("raw, clean", [
    ("\x1b[0;31mValueError\x1b[0m: bad", "ValueError: bad"),                # IPython traceback colours
    ("\x1b[1;32m✓\x1b[39m done", "✓ done"),
    ("\x1b[2K\x1b[?25lprogress\x1b[?25h", "progress"),                       # erase line, hide/show cursor
    ("see \x1b]8;;https://dvc.org\x1b\\dvc.org\x1b]8;;\x1b\\ now", "see dvc.org now"),  # a hyperlink
    ("plain [not a code] 50%", "plain [not a code] 50%"),
])
def test_strip_ansi(raw, clean):
    assert strip_ansi(raw) == clean
