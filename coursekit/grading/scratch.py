"""A grading run's scratch folder, for work folders and kernel sockets: gone when the run ends.

A grader killed outright (kill -9, the OOM killer) cannot remove its folder, so the next run in
the same temporary folder does. A run holds an exclusive lock on a file in its folder for as
long as it lives, and the system drops that lock when the process ends, however it ends. A
folder whose lock can be taken therefore belongs to no running grader, be it on this machine or
on another sharing the folder, such as a container whose process ids mean nothing here.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREFIX = "coursekit-run-"
LOCK = ".lock"


@contextlib.contextmanager
def run_scratch(where: str | Path | None = None) -> Iterator[str]:
    """A fresh folder for one grading run, removed on leaving; abandoned ones are removed first.

    Parameters
    ----------
    where : path, optional
        The folder to make it in; the system's temporary folder (``TMPDIR``) by default.
    """
    remove_abandoned(where)
    folder = tempfile.mkdtemp(prefix=PREFIX, dir=where)
    lock = open(Path(folder) / LOCK, "w")  # held, and locked, until the folder is gone
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # cannot wait: no one else knows this folder yet
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        lock.close()


def remove_abandoned(where: str | Path | None = None) -> list[Path]:
    """Remove the scratch folders in ``where`` that no running grader holds; return them.

    A folder without its lock file yet (a run starting at this moment), one still locked, or one
    this user may not read is left alone.
    """
    removed = []
    for folder in sorted(Path(where or tempfile.gettempdir()).glob(PREFIX + "*")):
        try:
            with open(folder / LOCK) as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # in use (BlockingIOError), no lock file, not ours, or not a folder
            continue
        removed.append(folder)
    return removed
