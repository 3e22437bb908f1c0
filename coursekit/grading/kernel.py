"""A kernel for one submission: run code cells with a time limit, and survive what they do.

A cell that runs past its time is interrupted; if the interrupt does not stop it, the kernel is
killed. A cell that kills the kernel (``os._exit``, a crash, the memory cap) is recorded as such;
:func:`run_cells` then starts a fresh kernel and replays the cells that worked before it, so the
student keeps the credit for everything the crash did not break.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec

from coursekit.grading.sandbox import kernel_argv, kernel_env

#: Seconds an interrupted cell gets to stop before its kernel is killed.
GRACE = 5.0
#: Seconds a kernel gets to start.
STARTUP = 60.0
#: The longest path prefix of a kernel's sockets, in bytes: a Unix socket's path has at most 107,
#: and jupyter appends "-<port>".
MAX_SOCKET_PREFIX = 100
#: Where a kernel's sockets go when the grading run's folder has too long a path for them.
SHORT_TMP = "/tmp"


@dataclass
class CellOutcome:
    """How one cell ended.

    Attributes
    ----------
    status : {"ok", "error", "timeout", "died"}
    error : str
        ``"Name: message"`` of the exception for "error"; a description otherwise.
    seconds : float
    """

    status: str
    error: str = ""
    seconds: float = 0.0


#: The name of a kernel's socket folder starts so.
SOCKET_FOLDER_PREFIX = "coursekit-kernel-"


def mkdtemp_name(prefix: str) -> str:
    """A name as long as ``tempfile.mkdtemp(prefix=prefix)`` gives: it adds 8 random characters."""
    return prefix + "x" * 8


def sockets_fit(scratch: str | Path) -> bool:
    """Whether the sockets of a kernel whose folder is made in ``scratch`` have short enough paths."""
    longest = Path(os.path.abspath(scratch)) / mkdtemp_name(SOCKET_FOLDER_PREFIX) / "socket"
    return len(os.fsencode(longest)) <= MAX_SOCKET_PREFIX


def _socket_folder(scratch: str | Path | None) -> Path:
    """A fresh folder for a kernel's sockets: in ``scratch`` (the system's temporary folder by
    default), or in /tmp when the sockets' paths would be too long there. (A grading run's
    folder is made where they fit: see :func:`coursekit.grading.scratch.run_scratch`.)"""
    tried = (scratch or tempfile.gettempdir(), SHORT_TMP)
    for where in tried:
        if sockets_fit(where):
            return Path(tempfile.mkdtemp(prefix=SOCKET_FOLDER_PREFIX, dir=where))
    raise OSError("no folder with a path short enough for a kernel's sockets: tried "
                  + " and ".join(map(str, tried)))


class KernelDied(RuntimeError):
    """The kernel is gone (it exited, crashed or was killed)."""


class SandboxKernel:
    """An ipykernel in the student's work folder, started under :mod:`coursekit.grading.sandbox`."""

    def __init__(self, workdir: Path, hidden: Iterable[Path], timeout: float, memory: int,
                 isolate: bool = True, scratch: str | Path | None = None):
        self.workdir = Path(workdir).resolve()
        self.timeout = float(timeout)
        # The kernel talks over Unix sockets in a private folder of its own (the sandbox has no
        # network), made fresh for every kernel: a restarted kernel must not meet messages of the
        # one it replaces, and nothing else can reach them.
        self.channels = _socket_folder(scratch)
        self.km = self.kc = None
        try:
            argv = kernel_argv(self.workdir, hidden, memory, isolate, self.channels)
            self.km = KernelManager(connection_file=str(self.channels / "kernel.json"), transport="ipc",
                                    ip=str(self.channels / "socket"))
            self.km._kernel_spec = KernelSpec(argv=argv, display_name="coursekit sandbox",
                                              language="python",
                                              interrupt_mode="message")  # reaches it inside bwrap
            # the kernel's own stderr holds only ipykernel's start-up chatter; cell output comes as
            # messages
            self.km.start_kernel(env=kernel_env(self.workdir), cwd=str(self.workdir),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.kc = self.km.client()
            self.kc.start_channels()
            try:
                self.kc.wait_for_ready(timeout=STARTUP)
            except RuntimeError as error:
                raise KernelDied(f"the kernel did not start: {error}") from error
        except BaseException:
            with contextlib.suppress(Exception):  # the error that stopped the start matters more
                self.shutdown()
            raise

    def run(self, code: str, timeout: float | None = None) -> CellOutcome:
        """Execute ``code`` within ``timeout`` seconds (the kernel's default if None); never raises
        for what the code does."""
        timeout = self.timeout if timeout is None else float(timeout)
        started = time.perf_counter()
        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        deadline = started + timeout
        interrupted_at = None
        error = ""
        while True:
            error = self._drain_errors(msg_id) or error
            try:
                reply = self.kc.get_shell_msg(timeout=0.05)
            except (queue.Empty, ValueError):  # ValueError: a message with a bad signature
                reply = None
            if reply is not None and reply["parent_header"].get("msg_id") == msg_id:
                seconds = time.perf_counter() - started
                error = self._drain_errors(msg_id) or error
                if interrupted_at is not None:
                    return CellOutcome("timeout", f"ran past {timeout:g} s and was interrupted", seconds)
                content = reply["content"]
                if content.get("status") == "ok":
                    return CellOutcome("ok", "", seconds)
                return CellOutcome("error", error or f"{content.get('ename')}: {content.get('evalue')}",
                                   seconds)
            now = time.perf_counter()
            if not self.km.is_alive():
                return CellOutcome("died", "the kernel died (it exited, crashed or ran out of memory)",
                                   now - started)
            if interrupted_at is None and now > deadline:
                interrupted_at = now
                self.km.interrupt_kernel()
            elif interrupted_at is not None and now > interrupted_at + GRACE:
                self.km.shutdown_kernel(now=True)
                return CellOutcome("died", f"ran past {timeout:g} s and ignored the interrupt, "
                                           "so the kernel was stopped", now - started)

    def _drain_errors(self, msg_id: str) -> str:
        """Read the pending output messages; return the last error raised by ``msg_id``."""
        error = ""
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=0)
            except queue.Empty:
                return error
            except ValueError:  # a message that fails its signature check: not from our kernel
                continue
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "error":
                content = msg["content"]
                error = f"{content.get('ename')}: {content.get('evalue')}"

    def shutdown(self) -> None:
        """Stop the kernel and remove its sockets; safe to call on one that did not fully start."""
        try:
            if self.kc is not None:
                self.kc.stop_channels()
        finally:
            try:
                if self.km is not None:
                    if self.km.has_kernel:
                        self.km.shutdown_kernel(now=True)
                    self.km.cleanup_resources()
            finally:
                shutil.rmtree(self.channels, ignore_errors=True)


def run_cells(cells: list[str], start_kernel, replayable: list[bool] | None = None,
              timeouts: list[float | None] | None = None) -> list[CellOutcome]:
    """Run ``cells`` in order in a kernel from ``start_kernel()``, restarting it when it dies.

    After a death the new kernel first replays the cells that had run without error (of those
    marked ``replayable``), so that the later cells find the functions and variables they expect;
    the cell that killed the kernel is not run again. ``timeouts`` overrides the kernel's time
    limit for some cells (None keeps it).

    Returns
    -------
    list of CellOutcome, one per cell
    """
    outcomes: list[CellOutcome | None] = [None] * len(cells)
    limits = timeouts or [None] * len(cells)
    kernel = start_kernel()
    try:
        for i, code in enumerate(cells):
            outcome = kernel.run(code, limits[i])
            outcomes[i] = outcome
            if outcome.status == "died":
                kernel.shutdown()
                kernel = start_kernel()
                for j in range(i):
                    if replayable and not replayable[j]:
                        continue
                    if outcomes[j].status == "ok" and kernel.run(cells[j], limits[j]).status == "died":
                        outcomes[j] = CellOutcome("died", "the kernel died when this cell was replayed")
                        kernel.shutdown()
                        kernel = start_kernel()
    finally:
        kernel.shutdown()
    return outcomes
