"""One unprivileged user id per submission graded at once on this machine.

A submission runs as its slot's user (uid ``BASE_UID + slot``), never as the grader's: it
cannot signal, trace or write to the grader, to the other submissions, or to files it does
not own, and ``RLIMIT_NPROC`` counts its processes alone. Slots are taken with a lock file
each (``flock``), so that parallel threads, processes and Dask workers of one machine never
share a user id.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

BASE_UID = 61000
MAX_SLOTS = 256


class Slot:
    """A held slot: ``uid`` is its user id. A context manager: the slot is freed on exit."""

    def __init__(self) -> None:
        folder = Path(tempfile.gettempdir()) / "mlkit-grade-slots"
        folder.mkdir(mode=0o700, exist_ok=True)
        for i in range(MAX_SLOTS):
            fd = os.open(folder / f"slot-{i}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.index, self.uid, self._fd = i, BASE_UID + i, fd
            return
        raise RuntimeError(f"all {MAX_SLOTS} grading slots of this machine are taken")

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)  # closing releases the lock
