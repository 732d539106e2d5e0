"""Fixtures for the browser tests: one JupyterLab server, one Chromium and one page per session
(per pytest-xdist worker: `make test` splits the browser tests in lab units, see tests/conftest.py).

The server serves a throw-away copy of ``notebooks/`` and of ``tests/browser/fixtures/``
(so nothing a run does can write into the repository), with every Jupyter/IPython folder,
the lab settings and workspaces, and ``MLKIT_HOME`` in a temporary directory, and
``MLKIT_FAST=1``. Both are stopped by finalizers, whatever the tests do.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # also under --import-mode=importlib
    sys.path.insert(0, str(HERE))

import labdriver  # noqa: E402

REPO = HERE.parents[1]
NOTEBOOKS = REPO / "notebooks"
FIXTURES = HERE / "fixtures"
SCREENSHOTS = HERE / "screenshots"

_IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The system Chromium, or skip every browser test with the reason."""
    path, info = labdriver.find_chromium()
    if path is None:
        if os.environ.get("MLKIT_REQUIRE_BROWSER", "") in {"1", "true", "yes"}:
            pytest.fail(f"MLKIT_REQUIRE_BROWSER is set but there is no usable Chromium: {info}")
        pytest.skip(f"browser tests need Chromium: {info}")
    return path


@pytest.fixture(scope="session")
def lab(chromium_path, tmp_path_factory) -> labdriver.LabServer:
    """A JupyterLab server whose root holds ``notebooks/`` and ``fixtures/`` (copies)."""
    base = tmp_path_factory.mktemp("jupyterlab")
    content = base / "content"
    content.mkdir()
    if NOTEBOOKS.is_dir():
        shutil.copytree(NOTEBOOKS, content / "notebooks", ignore=_IGNORE)
    shutil.copytree(FIXTURES, content / "fixtures", ignore=_IGNORE)
    server = labdriver.LabServer(content, base / "state")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser(chromium_path, tmp_path_factory):
    """Headless Chromium driven by Playwright (the system binary; nothing downloaded).

    Its HOME and XDG folders are temporary too (crash reports, caches), so a run writes
    nothing into the user's home; the profile is Playwright's own temporary one.
    """
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium-home")
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_DATA_HOME=str(home / ".local/share"))  # fmt: skip
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=chromium_path, headless=True, args=labdriver.CHROMIUM_ARGS,
            env=env, timeout=120_000,
        )  # fmt: skip
        try:
            yield b
        finally:
            b.close()


class _Pages:
    """One page per worker, showing JupyterLab: each check opens its notebook in the app the page
    has loaded (loading JupyterLab costs seconds of CPU per notebook otherwise). A page that
    closed, crashed or was left by a failed check (``about:blank``) is replaced or reloaded."""

    def __init__(self, browser):
        self.browser = browser
        self.context = None
        self.current = None

    def get(self):
        if self.current is None or self.current.is_closed():
            self.close()
            self.context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
            self.context.set_default_timeout(60_000)
            self.current = self.context.new_page()
        return self.current

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
        self.context = self.current = None


@pytest.fixture(scope="session")
def _pages(browser):
    pages = _Pages(browser)
    try:
        yield pages
    finally:
        pages.close()


@pytest.fixture
def page(_pages):
    """The worker's JupyterLab page (see :class:`_Pages`)."""
    return _pages.get()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
