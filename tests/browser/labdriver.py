"""Run a notebook the way a learner does: in JupyterLab, in a real (headless) Chromium.

Three pieces, used by ``conftest.py`` and ``test_lessons.py``:

- :func:`find_chromium`: the system Chromium (``scripts/install_browser.sh`` installs it);
  Playwright drives it, no Playwright browser is ever downloaded.
- :class:`LabServer`: JupyterLab on 127.0.0.1 with a token, every settings, workspace,
  IPython and Jupyter folder in a throw-away directory, ``MLKIT_HOME`` there too and
  ``MLKIT_FAST=1``, so lessons run in fast mode and write nothing outside it.
- :func:`check_notebook`: opens one notebook, runs all cells, and returns a
  :class:`NotebookReport` listing every problem a learner would meet: error outputs, cells
  left unexecuted, widgets that did not render, a main widget (``.mlkit-main``) that does
  not respond to a click, and exceptions raised in the kernel by widget callbacks. It
  watches the kernel itself (a second websocket on the kernel's channels) so an exception
  is caught even when the front end shows nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlkit.course.processes import BackgroundServer, free_port
from mlkit.course.results import collect as collect_results
from mlkit.course.text import strip_ansi

CHROMIUM_ENV = "MLKIT_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"

# Flags for Chromium in a container: no sandbox (root), no GPU, nothing phoned home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-domain-reliability",
    "--disable-features=Translate,MediaRouter,OptimizationHints,DialMediaRouteProvider",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--mute-audio",
    "--password-store=basic",
    "--use-mock-keychain",
]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _timeout(name: str, default: float) -> float:
    """A timeout in seconds, overridable as $MLKIT_BROWSER_<NAME> (slow machines)."""
    return float(os.environ.get(f"MLKIT_BROWSER_{name.upper()}", default))


# --------------------------------------------------------------------------- Chromium


def find_chromium() -> tuple[str | None, str]:
    """The Chromium executable to drive, or None and the reason none can be used."""
    path = os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
    if not os.access(path, os.X_OK):
        return None, (
            f"no Chromium at {path}: run scripts/install_browser.sh (Debian: apt-get install "
            f"chromium chromium-driver) or set ${CHROMIUM_ENV} to a Chromium executable"
        )
    try:
        version = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"{path} does not run ({exc})"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None, "the Python package 'playwright' is not installed (pip install -e '.[test]')"
    return path, version


# --------------------------------------------------------------------------- the server


_USER_SETTINGS = {
    # No "get notified about Jupyter news?" popup, no update check (offline, and it
    # covers the notebook in screenshots).
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # Every cell in the DOM: the default windowing leaves off-screen cells (and their
    # outputs) out of the page, which would hide errors and widgets from the checks.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
    # The server works on copies, but never write run outputs back anyway.
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


class LabServer:
    """JupyterLab on 127.0.0.1 serving ``root_dir``, isolated in ``state_dir``.

    Started by the course's one launcher (:class:`mlkit.course.processes.BackgroundServer`):
    a free port, a health-checked start, a process group of its own, stopped with every
    kernel on :meth:`stop`, at exit, and when the test process dies. Use as a context
    manager, or call :meth:`start` and :meth:`stop` (``stop`` is safe to call twice and
    after a failed start).
    """

    def __init__(self, root_dir: Path, state_dir: Path, extra_env: dict[str, str] | None = None):
        self.root_dir = Path(root_dir)
        self.state_dir = Path(state_dir)
        self.extra_env = dict(extra_env or {})
        self.port = 0
        self.token = secrets.token_hex(16)
        self.server: BackgroundServer | None = None
        self.log_path = self.state_dir / "jupyterlab.log"
        self.mlkit_home = self.state_dir / "mlkit-home"
        self._shutdowns: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str | None]:
        """The server's environment, over this process's (None: the variable is removed)."""
        s = self.state_dir
        env: dict[str, str | None] = {}
        env.update(
            JUPYTER_CONFIG_DIR=str(s / "jupyter-config"),
            JUPYTER_DATA_DIR=str(s / "jupyter-data"),
            JUPYTER_RUNTIME_DIR=str(s / "jupyter-runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(s / "lab-settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(s / "lab-workspaces"),
            IPYTHONDIR=str(s / "ipython"),
            MLKIT_HOME=str(self.mlkit_home),
            MLKIT_FAST="1",
            PYTHONUNBUFFERED="1",
            PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        )
        # What a learner's JupyterLab would not have: test-suite settings (the root
        # conftest.py sets MPLBACKEND=Agg, which turns every inline plot into the text
        # "<Figure size ...>"), the batch runner's strict mode, another Jupyter's paths.
        for name in ("JUPYTER_PATH", "JUPYTER_TOKEN", "MPLBACKEND", "MLKIT_STRICT"):
            env[name] = None
        env.update(self.extra_env)
        return env

    def _write_settings(self) -> Path:
        settings = self.state_dir / "lab-settings"
        for rel, value in _USER_SETTINGS.items():
            p = settings / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(value, indent=2))
        for d in ("lab-workspaces", "jupyter-config", "jupyter-data", "jupyter-runtime", "ipython"):
            (self.state_dir / d).mkdir(parents=True, exist_ok=True)
        self.mlkit_home.mkdir(parents=True, exist_ok=True)
        # news_url None: no announcements fetched (only a config file can say None)
        (self.state_dir / "jupyter-config" / "jupyter_lab_config.json").write_text(
            json.dumps({"LabApp": {"news_url": None}})
        )
        return settings

    def start(self, timeout: float | None = None) -> LabServer:
        timeout = timeout or _timeout("server_start", 180)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        settings = self._write_settings()
        self.port = free_port()
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={self.state_dir / 'lab-workspaces'}",
            "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True",
            "--ServerApp.terminals_enabled=False",
        ]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.server = BackgroundServer(
            cmd, name="JupyterLab", port=self.port, startup_timeout=timeout, log_file=self.log_path,
            env=self.env(), cwd=self.root_dir, ready=lambda _server: self._answers(),
        )  # fmt: skip
        self.server.start()
        return self

    def _answers(self) -> bool:
        try:
            self.api("GET", "/api/status", timeout=5)
            return True
        except (OSError, urllib.error.URLError):
            return False

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        """Call the Jupyter server's REST API; returns the decoded JSON (or None)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def shutdown_kernels(self, timeout: float = 30) -> None:
        """Shut every kernel down cleanly (so lessons' atexit hooks stop their servers)."""
        try:
            for s in self.api("GET", "/api/sessions", timeout=10) or []:
                self.api("DELETE", f"/api/sessions/{s['id']}", timeout=timeout)
            for k in self.api("GET", "/api/kernels", timeout=10) or []:
                try:
                    self.api("DELETE", f"/api/kernels/{k['id']}", timeout=timeout)
                except urllib.error.HTTPError as exc:  # already gone with its session
                    if exc.code != 404:
                        raise
        except (OSError, urllib.error.URLError):
            pass

    def shutdown_kernel_later(self, kernel_id: str, timeout: float = 30) -> None:
        """Shut one kernel (and its session) down in the background: its lesson's atexit hooks stop
        the lesson's servers while the next notebook already opens. :meth:`stop` waits for it."""

        def shutdown() -> None:
            try:
                for s in self.api("GET", "/api/sessions", timeout=10) or []:
                    if (s.get("kernel") or {}).get("id") == kernel_id:
                        self.api("DELETE", f"/api/sessions/{s['id']}", timeout=timeout)
                self.api("DELETE", f"/api/kernels/{kernel_id}", timeout=timeout)
            except (OSError, urllib.error.URLError):  # gone with its session (404); else stop() shuts all down
                pass

        self._shutdowns = [t for t in self._shutdowns if t.is_alive()]
        thread = threading.Thread(target=shutdown, name=f"shutdown-{kernel_id[:8]}", daemon=True)
        thread.start()
        self._shutdowns.append(thread)

    def wait_for_shutdowns(self, timeout: float = 60) -> None:
        """Wait for the kernels shut down in the background (each up to ``timeout`` s)."""
        for thread in self._shutdowns:
            thread.join(timeout)
        self._shutdowns = []

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Shut the kernels down cleanly (so lessons' atexit hooks stop their servers), then
        the server with everything it started."""
        self.wait_for_shutdowns()
        server, self.server = self.server, None
        if server is not None:
            if server.running:
                self.shutdown_kernels()
            server.stop(timeout=20)

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- kernel watch


class KernelMonitor:
    """Listens to one kernel's iopub channel through the server, beside the browser.

    The server gives every websocket its own iopub subscription, so this sees every
    error and stderr message the kernel publishes, including those raised by widget
    callbacks (whose parent is a ``comm_msg``, not a cell), whatever the page shows.
    """

    def __init__(self, server: LabServer, kernel_id: str):
        import websocket  # websocket-client, a dependency of jupyter_server

        url = (
            f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels"
            f"?session_id=mlkit-monitor-{secrets.token_hex(4)}"
        )
        self._ws = websocket.create_connection(
            url, header=[f"Authorization: token {server.token}"], timeout=30
        )
        self._ws.settimeout(0.5)
        self.messages: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kernel-monitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import websocket

        while not self._stop.is_set():
            try:
                raw = self._ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError):  # closed
                return
            if not isinstance(raw, str):
                continue  # binary buffers: widgets' data, not errors
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            if msg.get("channel") != "iopub":
                continue
            kind = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
            if kind in ("error", "stream"):
                with self._lock:
                    self.messages.append(msg)

    def errors(self) -> list[dict]:
        """Kernel errors: ``{"ename", "evalue", "parent", "traceback"}`` per error."""
        out = []
        with self._lock:
            msgs = list(self.messages)
        for m in msgs:
            kind = m.get("msg_type") or m.get("header", {}).get("msg_type")
            content = m.get("content", {})
            parent = m.get("parent_header", {}).get("msg_type", "?")
            if kind == "error":
                out.append(
                    {"ename": content.get("ename"), "evalue": content.get("evalue"),
                     "parent": parent, "traceback": strip_ansi("\n".join(content.get("traceback", [])))}
                )  # fmt: skip
            elif kind == "stream" and content.get("name") == "stderr":
                text = content.get("text", "")
                if "Traceback (most recent call last)" in text or "Exception in comm_msg" in text:
                    out.append({"ename": "stderr traceback", "evalue": text.strip().splitlines()[-1],
                                "parent": parent, "traceback": text})  # fmt: skip
        return out

    def iopub_text(self) -> str:
        with self._lock:
            return "".join(m.get("content", {}).get("text", "") for m in self.messages)

    def close(self) -> None:
        import websocket

        self._stop.set()
        try:
            self._ws.close()
        except (websocket.WebSocketException, OSError):
            pass
        self._thread.join(timeout=5)


# --------------------------------------------------------------------------- the page

# All page-side probing goes through the app handle JupyterLab exposes with
# --LabApp.expose_app_in_browser (window.jupyterapp).
_FIND_PANEL_JS = """
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content && w.sessionContext) return w;
  }
  return null;
}
"""

_STATE_JS = (
    """
(path) => {
  const findPanel = %s;
  const w = findPanel(path);
  if (!w) return {found: false};
  const sc = w.sessionContext;
  const k = sc.session && sc.session.kernel;
  let nCode = 0, nDone = 0, nRunning = 0;
  for (const c of w.content.widgets) {
    if (c.model.type !== 'code') continue;
    if (!c.model.sharedModel.getSource().trim()) continue;
    nCode++;
    if (c.model.executionCount !== null) nDone++;
    const prompt = c.node.querySelector('.jp-InputPrompt');
    if (c.model.executionState === 'running' || (prompt && prompt.textContent.includes('*'))) nRunning++;
  }
  return {
    found: true, ready: w.context.isReady && sc.isReady && !!k,
    kernelId: k ? k.id : null, status: k ? k.status : 'none',
    connection: k ? k.connectionStatus : 'none', pendingInput: sc.pendingInput || false,
    nCode, nDone, nRunning,
  };
}
"""  # noqa: UP031 - JavaScript is full of braces
    % _FIND_PANEL_JS
)

_RUN_ALL_JS = (
    """
async (path) => {
  const findPanel = %s;
  const app = window.jupyterapp;
  const w = findPanel(path);
  app.shell.activateById(w.id);
  await app.commands.execute('notebook:run-all-cells');
  return true;
}
"""  # noqa: UP031 - JavaScript is full of braces
    % _FIND_PANEL_JS
)

_OUTPUTS_JS = (
    """
(path) => {
  const findPanel = %s;
  const w = findPanel(path);
  const res = {modelErrors: [], domErrors: [], widgets: [], mains: [], unexecuted: []};
  w.content.widgets.forEach((c, i) => {
    if (c.model.type !== 'code') return;
    const src = c.model.sharedModel.getSource();
    if (src.trim() && c.model.executionCount === null) res.unexecuted.push(i);
    const outs = c.model.outputs;
    for (let j = 0; j < outs.length; j++) {
      const o = outs.get(j).toJSON();
      if (o.output_type === 'error') res.modelErrors.push({cell: i, ename: o.ename, evalue: o.evalue,
        traceback: (o.traceback || []).join('\\n').slice(-3000), source: src.slice(0, 300)});
    }
  });
  const root = w.content.node;
  const cellIndex = (n) => {
    const cell = n.closest('.jp-Cell');
    if (!cell) return -1;
    return Array.from(cell.parentNode.children).filter(x => x.classList.contains('jp-Cell')).indexOf(cell);
  };
  const views = (n) => {
    let k = 0;
    for (const e of n.querySelectorAll('*')) {
      if (Array.from(e.classList).some(c => c.startsWith('widget-'))) k++;
    }
    return k;
  };
  for (const n of root.querySelectorAll('.jp-OutputArea-output[data-mime-type*="error"]')) {
    res.domErrors.push({cell: cellIndex(n), text: (n.innerText || '').slice(0, 500)});
  }
  // each widget output of a cell (model) and the DOM node showing it (same index)
  const seen = new Set();
  w.content.widgets.forEach((c, i) => {
    if (c.model.type !== 'code' || !c.outputArea) return;
    const outs = c.model.outputs;
    for (let j = 0; j < outs.length; j++) {
      const data = outs.get(j).data || {};
      if (!data['%s']) continue;
      const child = c.outputArea.widgets[j];
      const n = child ? (child.node.querySelector('.jp-OutputArea-output') || child.node) : null;
      if (n) seen.add(n);
      const text = n ? (n.innerText || n.textContent || '') : '';
      const failed = !n || text.includes('Error displaying widget')
                     || !!n.querySelector('.jupyter-widgets-error-widget');
      // a widget the kernel closed (a finished tqdm bar with leave=False, ...): its view is
      // gone and the renderer hides itself; that is not a rendering failure
      const closed = !!n && !failed && n.classList.contains('lm-mod-hidden') && !text.trim();
      res.widgets.push({cell: i, views: n ? views(n) : 0, failed, closed,
                        text: n ? text.slice(0, 200) : '(no output node)'});
    }
  });
  // widgets shown inside other widgets (e.g. in an Output widget) that failed
  for (const n of root.querySelectorAll('.jp-OutputArea-output')) {
    if (seen.has(n)) continue;
    const text = (n.textContent || '').trim();
    if (text.startsWith('Error displaying widget')
        || n.querySelector(':scope > .jupyter-widgets > .jupyter-widgets-error-widget')) {
      res.widgets.push({cell: cellIndex(n), views: 0, failed: true, text: text.slice(0, 200)});
    }
  }
  // a matplotlib figure shown as its text repr: the learner sees no plot
  res.textFigures = [];
  for (const n of root.querySelectorAll('.jp-OutputArea-output[data-mime-type="text/plain"]')) {
    const text = (n.textContent || '').trim();
    if (/^<Figure size [0-9.]+x[0-9.]+ with [0-9]+ Axes>$/.test(text)) {
      res.textFigures.push({cell: cellIndex(n), text, inWidget: !!n.closest('.widget-output')});
    }
  }
  for (const n of root.querySelectorAll('.mlkit-main')) res.mains.push((n.innerText || '').slice(0, 300));
  return res;
}
"""  # noqa: UP031 - JavaScript is full of braces
    % (_FIND_PANEL_JS, WIDGET_MIME)
)

_CELLS_JS = (
    """
(path) => {
  const findPanel = %s;
  return {cells: findPanel(path).content.widgets.filter(c => c.model.type === 'code')
                                  .map(c => ({outputs: c.model.outputs.toJSON()}))};
}
"""  # noqa: UP031 - JavaScript is full of braces
    % _FIND_PANEL_JS
)

_APP_LOADED_JS = "() => !!(window.jupyterapp && window.jupyterapp.shell && window.jupyterapp.commands)"

_OPEN_JS = """
async (path) => {
  await window.jupyterapp.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  return true;
}
"""

# Close every document of the page without a "save?" dialog (autosave is off; the server works on
# copies anyway). Kernels are shut down through the server's API, not by the page.
_CLOSE_ALL_JS = """
() => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return 0;
  let n = 0;
  for (const w of Array.from(app.shell.widgets('main'))) {
    if (w.context && w.context.model) w.context.model.dirty = false;
    w.dispose();
    n++;
  }
  return n;
}
"""

_MAIN_TEXT_JS = """
() => {
  const n = document.querySelector('.jp-Notebook .mlkit-main');
  if (!n) return null;
  // the text shown, plus the values of inputs (a slider's readout is an input in some themes)
  const vals = Array.from(n.querySelectorAll('input, textarea')).map(e => e.value).join('|');
  return (n.innerText || '') + '\\u0000' + vals;
}
"""


@dataclass
class Problem:
    """One thing a learner would see go wrong."""

    kind: str  # error-output | not-executed | widget-not-rendered | no-main-widget |
    # main-widget-unresponsive | callback-error | kernel-error | figure-not-rendered |
    # kernel-dead | timeout | harness
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.detail}"


@dataclass
class NotebookReport:
    """What :func:`check_notebook` saw for one notebook."""

    path: str
    problems: list[Problem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    widgets_rendered: int = 0
    widget_outputs: int = 0
    closed_widgets: int = 0
    main_before: str | None = None
    main_after: str | None = None
    screenshot: str | None = None
    console_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)  # what the notebook reported (mlkit.report)

    @property
    def ok(self) -> bool:
        return not self.problems

    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}

    def add(self, kind: str, detail: str) -> None:
        if not any(p.kind == kind and p.detail == detail for p in self.problems):
            self.problems.append(Problem(kind, detail))

    def summary(self) -> str:
        lines = [f"{self.path}: {'OK' if self.ok else f'{len(self.problems)} problem(s)'}"]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("  timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items()))
        closed = f" ({self.closed_widgets} closed by the kernel, not checked)" if self.closed_widgets else ""
        lines.append(f"  widgets: {self.widgets_rendered}/{self.widget_outputs} rendered{closed}")
        if self.results:
            lines.append("  key results: " + ", ".join(f"{k}={v}" for k, v in self.results.items()))
        if self.screenshot:
            lines.append(f"  screenshot: {self.screenshot}")
        lines += [f"  note: {n}" for n in self.notes]
        if self.console_errors and not self.ok:
            lines.append("  browser console errors:")
            lines += [f"    {e[:300]}" for e in self.console_errors[:10]]
        return "\n".join(lines)

    def to_json(self) -> str:
        d = {
            "path": self.path, "ok": self.ok, "problems": [vars(p) for p in self.problems],
            "timings": self.timings, "widgets_rendered": self.widgets_rendered,
            "widget_outputs": self.widget_outputs, "closed_widgets": self.closed_widgets,
            "main_before": self.main_before,
            "main_after": self.main_after, "screenshot": self.screenshot,
            "console_errors": self.console_errors, "notes": self.notes, "results": self.results,
        }  # fmt: skip
        return json.dumps(d, indent=2)


class _Abort(Exception):
    """A check cannot go on (kernel died, nothing happened in time)."""


def _poll(fn, timeout: float, interval: float = 0.25):
    """Call fn until it returns something truthy; that value, or None after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def _state(page, path: str) -> dict:
    return page.evaluate(_STATE_JS, path) or {"found": False}


def _check_alive(st: dict, report: NotebookReport) -> None:
    if st.get("status") in ("dead", "autorestarting") or st.get("connection") == "disconnected":
        report.add("kernel-dead", f"the kernel is {st.get('status')} ({st.get('connection')})")
        raise _Abort


def _wait_idle(page, path: str, report: NotebookReport, timeout: float, settle: float = 0.75) -> bool:
    """Wait until the kernel has been idle (and no cell queued) for ``settle`` seconds."""
    since = None

    def idle():
        nonlocal since
        st = _state(page, path)
        _check_alive(st, report)
        quiet = st.get("ready") and st.get("status") == "idle" and not st.get("nRunning")
        if not quiet:
            since = None
            return False
        since = since or time.monotonic()
        return time.monotonic() - since >= settle

    return bool(_poll(idle, timeout))


def _started(st: dict) -> bool:
    """Run All took: a cell queued, running or done, the kernel busy, or nothing to run."""
    return bool(st.get("nRunning") or st.get("nDone") or st.get("status") == "busy" or not st.get("nCode"))


def _dismiss_dialogs(page) -> None:
    """Accept any modal dialog (e.g. 'Select Kernel' for a notebook without a kernelspec)."""
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():
        dialog.first.click()


def check_notebook(
    page,
    server: LabServer,
    rel_path: str,
    screenshot_dir: Path | None = None,
    *,
    run_timeout: float | None = None,
    interaction_timeout: float | None = None,
) -> NotebookReport:
    """Open ``rel_path`` (relative to the server's root) in ``page``, run it, check it.

    The notebook opens in the JupyterLab that ``page`` already shows (loaded once, as a learner
    opens one notebook after another), else JupyterLab is loaded first. Never raises for what it
    finds: every finding is a :class:`Problem` in the report, so tests can assert either that a
    lesson is clean or that a broken one is caught. A screenshot is saved (when asked) in any
    case; then the notebook is closed and its kernel shut down in the background
    (:meth:`LabServer.shutdown_kernel_later`).
    """
    run_timeout = run_timeout or _timeout("run", 300)
    report = NotebookReport(rel_path)
    t0 = time.monotonic()
    log_offset = server.log_size()
    monitor: KernelMonitor | None = None
    stem = Path(rel_path).stem

    def mark(name: str, since: float) -> float:
        now = time.monotonic()
        report.timings[name] = round(now - since, 2)
        return now

    def on_console(message) -> None:
        if message.type == "error":
            report.console_errors.append(message.text)

    def on_page_error(error) -> None:
        report.console_errors.append(f"pageerror: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    kernel_id = None
    try:
        # 1. open the notebook and wait for its kernel: in the JupyterLab this page already shows
        #    (as a learner opens the next notebook), else load JupyterLab first
        if _app_loaded(page, server):
            report.notes.append("opened in the JupyterLab this page had loaded")
            page.evaluate(_OPEN_JS, rel_path)
        else:
            page.goto(f"{server.url}/lab/tree/{rel_path}?reset&token={server.token}",
                      wait_until="domcontentloaded", timeout=_timeout("page_load", 120) * 1000)  # fmt: skip
        found = _poll(lambda: _state(page, rel_path).get("found") or _dismiss_dialogs(page),
                      _timeout("page_load", 120), 0.5)  # fmt: skip
        if not found:
            report.add("timeout", "the notebook did not open in JupyterLab")
            raise _Abort
        t = mark("open", t0)

        def kernel_ready():
            _dismiss_dialogs(page)
            st = _state(page, rel_path)
            return st if st.get("ready") and st.get("kernelId") and st.get("status") == "idle" else None

        st = _poll(kernel_ready, _timeout("kernel_start", 120), 0.5)
        if not st:
            report.add("timeout", f"the kernel was not idle in time ({_state(page, rel_path)})")
            raise _Abort
        kernel_id = st["kernelId"]
        _wait_idle(page, rel_path, report, 30, settle=1.0)  # kernel_info & comm set-up done
        monitor = KernelMonitor(server, st["kernelId"])
        t = mark("kernel", t)

        # 2. run all; retry if the kernel dropped the request (nothing started at all)
        for attempt in range(3):
            page.evaluate(_RUN_ALL_JS, rel_path)
            started = _poll(lambda: _started(_state(page, rel_path)), 20)
            if started:
                break
            report.notes.append(f"Run All started nothing (attempt {attempt + 1}); running it again")

        def finished():
            st = _state(page, rel_path)
            _check_alive(st, report)
            return st.get("status") == "idle" and not st.get("nRunning")

        deadline = time.monotonic() + run_timeout
        while time.monotonic() < deadline:
            if _poll(finished, deadline - time.monotonic(), 0.5) and _wait_idle(
                page, rel_path, report, max(1.0, deadline - time.monotonic()), settle=1.5
            ):
                break
        else:
            st = _state(page, rel_path)
            report.add("timeout", f"Run All did not finish within {run_timeout:.0f} s "
                                  f"({st.get('nDone')}/{st.get('nCode')} cells done)")  # fmt: skip
            raise _Abort
        t = mark("run_all", t)

        # 3. let widget views render (async), then read the outputs
        res = _settled_outputs(page, rel_path)
        _record_outputs(report, res)
        report.results = collect_results(page.evaluate(_CELLS_JS, rel_path))  # the runner's reader
        t = mark("checks", t)

        # 4. the main widget answers one interaction; then look again (a callback can show
        #    new widgets, errors or plots)
        _interact(page, rel_path, report, res["mains"], interaction_timeout or _timeout("interaction", 30))
        _record_outputs(report, _settled_outputs(page, rel_path))
        t = mark("interact", t)
    except _Abort:
        pass
    except Exception as exc:  # noqa: BLE001 - a harness or browser failure is a problem of the run too
        report.add("harness", f"{type(exc).__name__}: {exc}")
    finally:
        if monitor is not None:
            time.sleep(0.5)  # an error published just before idle
            monitor.close()
            for e in monitor.errors():
                if e["parent"] == "comm_msg":
                    report.add("callback-error", f"a widget callback raised {e['ename']}: {e['evalue']}\n"
                                                 f"{e['traceback'][-1500:]}")  # fmt: skip
                elif e["parent"] != "execute_request" or not report.kinds() & {"error-output"}:
                    report.add("kernel-error", f"{e['ename']}: {e['evalue']} (during {e['parent']})")
            if "IOPub data rate exceeded" in monitor.iopub_text():
                report.add("kernel-error", "IOPub data rate exceeded: an output is too big for the front end")
        # kernel-side log: comm handler exceptions that never reach iopub
        log = server.log_since(log_offset)
        if "Exception in comm_msg" in log:
            tail = log[log.find("Exception in comm_msg"):][:1500]
            if not report.kinds() & {"callback-error"}:
                report.add("callback-error", f"the kernel logged a widget callback exception:\n{tail}")
        if screenshot_dir is not None:
            screenshot_dir.mkdir(parents=True, exist_ok=True)
            shot = screenshot_dir / f"{stem}.png"
            try:
                page.evaluate(
                    "() => { const app = window.jupyterapp;"
                    " if (app && app.shell.collapseLeft) app.shell.collapseLeft();"
                    " const n = document.querySelector('.jp-Notebook .mlkit-main');"
                    " if (n) n.scrollIntoView({block: 'start'}); }"
                )
                time.sleep(0.3)  # layout after the side panel closed
                page.screenshot(path=str(shot), timeout=30_000)
                report.screenshot = str(shot)
            except Exception as exc:  # noqa: BLE001 - a missing screenshot is only a note
                report.notes.append(f"no screenshot: {exc}")
        _close(page, report)
        page.remove_listener("console", on_console)
        page.remove_listener("pageerror", on_page_error)
        if kernel_id:  # its lesson's servers stop while the next notebook opens
            server.shutdown_kernel_later(kernel_id)
        else:
            server.shutdown_kernels()
        report.timings["total"] = round(time.monotonic() - t0, 2)
        if screenshot_dir is not None:
            (screenshot_dir / f"{stem}.json").write_text(report.to_json())
    return report


def _app_loaded(page, server: LabServer) -> bool:
    """This page shows ``server``'s JupyterLab, started, with no dialog open."""
    if page.is_closed() or not page.url.startswith(f"{server.url}/lab"):
        return False
    try:
        return bool(page.evaluate(_APP_LOADED_JS)) and not page.locator(".jp-Dialog").count()
    except Exception:  # noqa: BLE001 - a page that cannot answer is loaded again
        return False


def _close(page, report: NotebookReport) -> None:
    """Close the notebook. After a check that could not finish, leave JupyterLab entirely, so the
    next check loads it afresh instead of inheriting a page in an unknown state."""
    if page.is_closed():
        return
    try:
        if report.kinds() & {"harness", "timeout", "kernel-dead"}:
            page.goto("about:blank")
        else:
            page.evaluate(_CLOSE_ALL_JS)
    except Exception as exc:  # noqa: BLE001 - the next check then loads JupyterLab again
        report.notes.append(f"closing the notebook: {exc}")
        try:
            page.goto("about:blank")
        except Exception:  # noqa: BLE001 - a dead page is replaced by the next check's goto
            pass


def _settled_outputs(page, path: str) -> dict:
    """The outputs once every widget view has rendered, failed, or been closed (async)."""

    def settled():
        res = page.evaluate(_OUTPUTS_JS, path)
        pending = [w for w in res["widgets"] if not (w["views"] or w["failed"] or w.get("closed"))]
        return None if pending else res

    return _poll(settled, _timeout("widget_render", 15), 0.5) or page.evaluate(_OUTPUTS_JS, path)


def _record_outputs(report: NotebookReport, res: dict) -> None:
    """Turn one scan of the outputs into problems (a second scan adds only new ones)."""
    for e in res["modelErrors"]:
        tb = strip_ansi(e.get("traceback") or "").strip().splitlines()
        where = next((ln.strip() for ln in reversed(tb) if ln.lstrip().startswith("---->")), "")
        report.add("error-output", f"cell {e['cell']}: {e['ename']}: {e['evalue']}"
                                   + (f"\n    at {where}" if where else ""))  # fmt: skip
    if not res["modelErrors"]:  # errors shown inside widgets (an Output widget)
        for e in res["domErrors"]:
            report.add("error-output", f"cell {e['cell']} shows an error: {e['text'][:300]}")
    if res["unexecuted"]:
        report.add("not-executed", f"code cells not executed: {res['unexecuted']}")
    for f in res["textFigures"]:
        where = "inside a widget" if f["inWidget"] else "as a cell output"
        report.add("figure-not-rendered", f"cell {f['cell']}: a matplotlib figure is shown {where} as the "
                                          f"text {f['text']!r}, not as an image")  # fmt: skip
    closed = [w for w in res["widgets"] if w.get("closed")]
    report.closed_widgets = len(closed)
    report.widget_outputs = len(res["widgets"]) - len(closed)
    report.widgets_rendered = 0
    for w in res["widgets"]:
        if w.get("closed"):
            continue
        if w["views"] and not w["failed"]:
            report.widgets_rendered += 1
        else:
            shows = w["text"].strip()[:150]
            report.add("widget-not-rendered", f"cell {w['cell']}: the widget output shows {shows!r}")


def _interact(page, path: str, report: NotebookReport, mains: list[str], timeout: float) -> None:
    """Click the first button in ``.mlkit-main`` (or nudge its first slider); its text must change.

    "First button" skips disabled buttons and the already selected option of a ToggleButtons.
    """
    if not mains:
        report.add("no-main-widget", "no widget with CSS class 'mlkit-main' is shown")
        return
    if len(mains) > 1:
        report.notes.append(f"{len(mains)} '.mlkit-main' widgets; the first one is tested")
    main = page.locator(".jp-Notebook .mlkit-main").first
    before = page.evaluate(_MAIN_TEXT_JS)
    report.main_before = (before or "").split("\u0000")[0]
    # the first button a click can change something with: enabled, and not the option a
    # ToggleButtons already has selected (clicking that one is a no-op by design)
    button = main.locator("button:not([disabled]):not(.mod-active)")
    handle = main.locator(".noUi-handle, .slider-container .ui-slider-handle, input[type=range]")
    if button.count():
        action = f"click on button {button.first.inner_text().strip()!r}"
        button.first.click(timeout=30_000)
    elif handle.count():
        action = "slider moved one step right"
        handle.first.focus()
        page.keyboard.press("ArrowRight")
    else:
        report.add("no-main-widget", "the '.mlkit-main' widget has no enabled button or slider")
        return

    def changed():
        st = _state(page, path)
        _check_alive(st, report)
        now = page.evaluate(_MAIN_TEXT_JS)
        return now if (now != before and st.get("status") == "idle" and not st.get("nRunning")) else None

    after = _poll(changed, timeout, 0.25)
    _wait_idle(page, path, report, 60, settle=0.75)
    after = page.evaluate(_MAIN_TEXT_JS)
    report.main_after = (after or "").split("\u0000")[0]
    if after == before:
        shows = report.main_before[:200]
        report.add("main-widget-unresponsive", f"after a {action}, '.mlkit-main' still shows {shows!r}")
