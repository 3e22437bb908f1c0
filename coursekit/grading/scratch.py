"""A grading run's scratch folder, for work folders and kernel sockets: gone when the run ends.

A grader killed outright (kill -9, the OOM killer) cannot remove its folder, so the next run in
the same temporary folder does. A run holds an exclusive lock (``flock``) on a file in its
folder for as long as it lives, and the system drops that lock when the process ends, however
it ends. A folder whose lock can be taken therefore belongs to no running grader, whichever
process or container on this machine started it. (This needs a local temporary folder: over
NFS the locks are emulated and cannot be relied on.)

The folder is made where the kernels' sockets fit inside it (a Unix socket's path is short), so
that nothing of a run lies outside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from coursekit.grading.kernel import SHORT_TMP, mkdtemp_name, sockets_fit

PREFIX = "coursekit-run-"
LOCK = ".lock"
#: Seconds after which a folder still without its lock file is taken for a run killed as it
#: started (a starting run renames its lock file into place within microseconds).
STARTING = 600


@contextlib.contextmanager
def run_scratch(where: str | Path | None = None) -> Iterator[str]:
    """A fresh folder for one grading run, removed on leaving; abandoned ones are removed first.

    Parameters
    ----------
    where : path, optional
        The folder to make it in. By default the system's temporary folder (``TMPDIR``), or /tmp
        when that has too long a path for the kernels' sockets to fit in the run's folder.
    """
    if where is None:
        where = tempfile.gettempdir()
        if not sockets_fit(Path(where) / mkdtemp_name(PREFIX)):
            where = SHORT_TMP
    remove_abandoned(where)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=where))
    lock = None
    try:
        # Locked under another name, then renamed: no other run sees the lock file unlocked.
        lock = os.open(folder / f"{LOCK}.new", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)
        os.rename(folder / f"{LOCK}.new", folder / LOCK)
        yield str(folder)
    finally:
        _empty(folder)
        if lock is not None:
            os.close(lock)


def remove_abandoned(where: str | Path | None = None) -> list[Path]:
    """Remove the scratch folders in ``where`` that no running grader holds; return them.

    Only this user's folders are touched: those with a lock file that no process holds, and those
    that have had no lock file for :data:`STARTING` seconds. A folder that has just been made
    without its lock file (a run starting this moment), a symbolic link, or a lock file that is
    not a plain file is left alone.
    """
    removed = []
    for folder in sorted(Path(where or tempfile.gettempdir()).glob(PREFIX + "*")):
        try:
            info = os.lstat(folder)
        except OSError:  # gone meanwhile
            continue
        if not _is_mine(info, stat.S_ISDIR):
            continue
        try:
            # Not following links, and not waiting on a FIFO planted under the lock's name.
            lock = os.open(folder / LOCK, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except FileNotFoundError:  # no lock file: a run starting, or one killed as it started
            if time.time() - info.st_mtime > STARTING and _empty(folder):
                removed.append(folder)
            continue
        except OSError:  # not readable
            continue
        try:
            if _is_mine(os.fstat(lock), stat.S_ISREG):
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if _empty(folder):
                    removed.append(folder)
        except OSError:  # locked: a grader is using it
            pass
        finally:
            os.close(lock)
    return removed


def remove_tree(path: str | Path) -> None:
    """Remove a folder that a student's code wrote in, whatever permissions it left on it.

    Removing an entry needs write and search permission on its folder; a student's code may have
    taken them away from the owner (``os.chmod(".", 0o500)``), and ``shutil.rmtree`` alone would
    then leave the folder behind. Each folder, links aside, is given them back first.
    """
    _let_owner_in(path)
    for root, folders, _ in os.walk(path):  # top down: each folder is opened before it is listed
        for name in folders:
            _let_owner_in(os.path.join(root, name))
    shutil.rmtree(path, ignore_errors=True)


def _let_owner_in(folder: str | Path) -> None:
    if not os.path.islink(folder):
        with contextlib.suppress(OSError):
            os.chmod(folder, stat.S_IRWXU)


def _is_mine(info: os.stat_result, kind) -> bool:
    return kind(info.st_mode) and info.st_uid == os.getuid()


def _empty(folder: Path) -> bool:
    """Remove ``folder``, its lock file last, so that what cannot be removed now (a file a
    process is still writing) stays under a lock file for a later run to remove. Whether it is
    gone."""
    if not folder.is_dir():  # gone already
        return not folder.exists()
    for entry in list(folder.iterdir()):
        if entry.name == LOCK:
            continue
        if entry.is_dir() and not entry.is_symlink():
            remove_tree(entry)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    with contextlib.suppress(OSError):
        if [entry.name for entry in folder.iterdir()] == [LOCK]:
            (folder / LOCK).unlink()
        folder.rmdir()
    return not folder.exists()
