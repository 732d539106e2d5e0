"""Lesson 01, versioning: real ``git`` and ``dvc`` commands in a repository in the workspace.

:func:`sh` runs one command line (``"dvc add landing"``), prints it as ``$ ...`` with
its output, and raises a clear error when it fails, so the notebook shows exactly the
commands a learner would type. :func:`release` is the course's one data release (a frame
under a git tag, tracked with DVC and pushed), which lesson 01 publishes to the course store
with and lesson 06 releases bike data with. The rest is plumbing: make (or reset) the demo
repository with a local-directory DVC remote, hash files and folders, read a ``.dvc``
file's recorded hash, and tell which stages a ``dvc repro`` ran.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.course.errors import MlkitError

if TYPE_CHECKING:
    import pandas as pd

_BIN = str(Path(sys.executable).parent)  # the venv's bin: dvc, and python for the stage commands
_ENV = {"DVC_NO_ANALYTICS": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "mlkit learner",
        "GIT_AUTHOR_EMAIL": "learner@example.invalid", "GIT_COMMITTER_NAME": "mlkit learner",
        "GIT_COMMITTER_EMAIL": "learner@example.invalid"}


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class VersioningError(MlkitError, RuntimeError):
    """A git or dvc command failed; the message holds the command and its output."""


class ReleaseConflict(VersioningError):
    """A release tag already names other data (:func:`release`)."""


class Output(str):
    """A command's output: a plain string that a notebook does not echo a second time."""

    def _ipython_display_(self) -> None:  # already printed by sh()
        pass


# DVC's hints, each a header line and its tab-indented command lines: the lesson runs the
# git commands itself, so the hint only repeats (or contradicts) what the learner sees next.
_HINTS = ("To track the changes with git, run:", "To enable auto staging, run:",
          "Use `dvc push` to send your updates to remote storage.")


def _tidy(text: str) -> str:
    """Terminal output without colour codes, progress spinners and DVC's hints."""
    lines = (_ANSI.sub("", line).rstrip() for line in text.splitlines())
    kept: list[str] = []
    in_hint = False
    for line in lines:
        if not line or line[0] in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏":
            continue
        if line.startswith(_HINTS):
            in_hint = True
            continue
        if in_hint and line.startswith("\t"):
            continue
        in_hint = False
        kept.append(line)
    return "\n".join(kept).strip()


def sh(command: str | Sequence[str], cwd: str | os.PathLike, *, echo: bool = True, check: bool = True,
       timeout: float = 300, env: dict[str, str] | None = None) -> Output:
    """Run one git/dvc command line in ``cwd``, show it like a terminal, return its output.

    The venv's ``bin`` goes first on PATH, so ``dvc`` and ``python`` are the course's.
    """
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    env = {**os.environ, **_ENV, **(env or {}), "PATH": _BIN + os.pathsep + os.environ.get("PATH", "")}
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise VersioningError(f"`{argv[0]}` is not installed (needed for: {shlex.join(argv)}).") from None
    except subprocess.TimeoutExpired:
        raise VersioningError(f"`{shlex.join(argv)}` took more than {timeout:.0f} s.") from None
    output = Output(_tidy(proc.stdout + "\n" + proc.stderr))
    if echo:
        print(f"$ {shlex.join(argv)}" + (f"\n{output}" if output else ""))
    if check and proc.returncode != 0:
        raise VersioningError(f"`{shlex.join(argv)}` failed in {cwd} (exit {proc.returncode}):\n{output}")
    return output


def init_repo(repo: str | os.PathLike, remote: str | os.PathLike, *, reset: bool = True,
              echo: bool = True) -> Path:
    """A fresh git + DVC repository with a local-directory remote named ``storage`` (lesson 01).

    With ``reset`` (the default) an existing repository and remote are deleted first, so
    a lesson can run twice in a row.
    """
    repo, remote = Path(repo), Path(remote)
    if reset:
        for path in (repo, remote):
            shutil.rmtree(path, ignore_errors=True)
    repo.mkdir(parents=True, exist_ok=True)
    remote.mkdir(parents=True, exist_ok=True)
    if not (repo / ".git").exists():
        sh("git init -q -b main", repo, echo=echo)
        # DVC's per-repository index goes inside the repository, not in /var/tmp/dvc (plumbing)
        site = str(repo.resolve() / ".dvc" / "tmp" / "site")
        with tempfile.TemporaryDirectory() as scratch:
            sh("dvc init -q", repo, echo=echo, env={"DVC_SITE_CACHE_DIR": scratch})
        sh(["dvc", "config", "--local", "core.site_cache_dir", site], repo, echo=False)
        sh(["dvc", "remote", "add", "-d", "storage", str(remote.resolve())], repo, echo=echo)
        sh("git add .dvc .dvcignore", repo, echo=False)
        sh(["git", "commit", "-q", "-m", "Initialise DVC with a local remote"], repo, echo=echo)
    return repo


def release(repo: str | os.PathLike, remote: str | os.PathLike, frame: pd.DataFrame, tag: str, *, data_file: str,
            files: dict[str, Callable[[Path], Any]] | None = None, message: str | None = None,
            echo: bool = True) -> tuple[str, bool]:
    """Release ``frame`` under git tag ``tag`` in the git + DVC repository ``repo`` (lessons 01, 06, 07).

    The one data release of the course: the repository and its local DVC remote ``remote`` are
    made on first use; the frame is written as ``data_file`` (Parquet, without pandas' ``attrs``,
    so the same rows give the same bytes and md5), then ``dvc add``, ``git add`` (with ``files``:
    ``{name: write(path)}`` for files committed beside the data, such as the suite it passed),
    ``git commit``, ``git tag`` and ``dvc push``, shown like a terminal when ``echo``.

    Returns ``(md5, new)``. The same data under an existing tag changes nothing (``new`` False);
    other data under it raises :class:`ReleaseConflict`. Hold the store's lock around it when
    others may write the repository at the same time.
    """
    repo, remote = Path(repo), Path(remote)
    if not (repo / ".dvc").is_dir() or not (repo / ".git").is_dir():
        shutil.rmtree(repo, ignore_errors=True)  # a half-made one from a crash
        init_repo(repo, remote, reset=False, echo=False)
    scratch = Path(tempfile.mkdtemp(dir=repo.parent, prefix=f".{repo.name}-release-"))
    try:
        candidate = scratch / data_file
        data = frame.reset_index(drop=True)
        data.attrs = {}  # pandas writes attrs into the file
        data.to_parquet(candidate, index=False)
        md5 = file_md5(candidate)
        if tag in sh(["git", "tag", "--list", tag], repo, echo=False).split():
            have = dvc_hash(repo / f"{data_file}.dvc", rev=tag)
            if have != md5:
                raise ReleaseConflict(f"{repo} already holds other data as {tag} (md5 {have}, this is {md5}): "
                                      "release it under a new tag.")
            return md5, False
        os.replace(candidate, repo / data_file)
        for name, write in (files or {}).items():
            write(repo / name)
        run = lambda cmd: sh(cmd, repo, echo=echo)  # noqa: E731
        run(["dvc", "add", data_file])
        run(["git", "add", f"{data_file}.dvc", ".gitignore", *(files or {})])
        run(["git", "commit", "-q", "--allow-empty", "-m", message or f"Data release {tag}"])
        run(["git", "tag", tag])
        run(["dvc", "push"])
        return md5, True
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def file_md5(path: str | os.PathLike) -> str:
    """The MD5 of a file: what DVC records for it in its ``.dvc`` file."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_digest(path: str | os.PathLike) -> str:
    """A SHA-256 over every file (relative name and content) under a folder, or of one file."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode() + b"\0")
        digest.update(f.read_bytes())
    return digest.hexdigest()


def _recorded_hash(text: str, where: str) -> str:
    import yaml

    try:
        return str(yaml.safe_load(text)["outs"][0]["md5"])
    except (KeyError, IndexError, TypeError, yaml.YAMLError):
        raise VersioningError(f"{where} records no output hash; was `dvc add` run?") from None


def dvc_hash(dvc_file: str | os.PathLike, rev: str | None = None) -> str:
    """The hash DVC recorded for the first output of a ``.dvc`` file (``md5``; folders end in ``.dir``).

    With ``rev`` (a git tag or commit) it is the hash recorded at that revision, read with
    ``git show`` without touching the working tree (lesson 01; the course store's releases).
    """
    dvc_file = Path(dvc_file)
    if rev is None:
        return _recorded_hash(dvc_file.read_text(), str(dvc_file))
    text = sh(["git", "show", f"{rev}:./{dvc_file.name}"], dvc_file.parent, echo=False)
    return _recorded_hash(text, f"{dvc_file.name} at {rev}")


def remote_status(repo: str | os.PathLike, *targets: str) -> dict[str, str]:
    """What DVC says is not in the remote yet (``dvc status --cloud --json``): {} when all is pushed.

    Keys are paths, values DVC's words ("new", "deleted", "missing", ...). Ask DVC, never
    the remote's folder layout, which is DVC's business (lesson 01, the course store).
    """
    import json

    out = sh(["dvc", "status", "--cloud", "--json", *targets], repo, echo=False)
    start, end = out.find("{"), out.rfind("}")  # the JSON, without any warning DVC printed beside it
    if start < 0 or end < start:
        raise VersioningError(f"`dvc status --cloud --json` gave no JSON in {repo}:\n{out}")
    return json.loads(out[start:end + 1])


def stages_ran(repro_output: str) -> list[str]:
    """The stages a ``dvc repro`` output says it ran (empty when everything was up to date)."""
    return re.findall(r"Running stage '([^']+)'", repro_output)


def cache_size(repo: str | os.PathLike) -> int:
    """Bytes in the repository's DVC cache."""
    cache = Path(repo) / ".dvc" / "cache"
    return sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()) if cache.exists() else 0
