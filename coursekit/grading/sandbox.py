"""Run a student's code in a kernel that cannot see the course's answers.

Where Debian's bubblewrap (``bwrap``) is installed, the kernel runs in its own namespaces: the
file system is read-only, ``/tmp`` is empty, and the paths listed as hidden
(``solutions/``, the course directory with its gradebook, the other submissions, the repository's
history) are replaced by empty folders. Only the student's own work folder, and the folder of the
kernel's sockets, are writable. It has no network (not even the grader's machine: no database, no
other kernel) and sees no process but its own, so it can neither reach nor kill the grader. Without
bubblewrap the kernel still gets its memory cap, and a warning says that it is not isolated.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path

#: Limits used unless the instructor sets others.
DEFAULT_TIMEOUT = 60
DEFAULT_MEMORY = 2 * 1024**3

# Sets the address-space cap, then becomes the kernel: the cap holds for everything the kernel runs.
_LAUNCH = (
    "import os, resource, sys; cap = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_AS, (cap, cap)); "
    "os.execv(sys.executable, [sys.executable, '-m', 'ipykernel_launcher', '-f', sys.argv[2]])"
)

# One BLAS thread per kernel: parallel graders share the cores instead of fighting over them.
KERNEL_ENV = {
    "MPLBACKEND": "Agg",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}


class SandboxWarning(UserWarning):
    """Student code runs without isolation from the course's files."""


NOT_ISOLATED = ("bubblewrap (bwrap) is missing or cannot make its namespaces here: student code runs "
                "without isolation from solutions/ and the gradebook, and with network access. Install "
                "Debian's bubblewrap package, on a system that allows user namespaces.")


def bwrap() -> str | None:
    """Path of a working bubblewrap, or None."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    return path if _bwrap_works(path) else None


_BWRAP_OK: dict[str, bool] = {}

#: bubblewrap's options for the namespaces a kernel gets of its own: no network, no other
#: processes in sight, no shared memory with them.
NAMESPACES = ("--unshare-net", "--unshare-pid", "--unshare-ipc")


def _bwrap_works(path: str) -> bool:
    # Containers without user namespaces have the binary but cannot use it: try it once, with the
    # mounts and namespaces a kernel gets.
    if path not in _BWRAP_OK:
        import subprocess

        command = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
                   *NAMESPACES, "true"]
        try:
            _BWRAP_OK[path] = subprocess.run(command, capture_output=True, timeout=20).returncode == 0
        except (OSError, subprocess.SubprocessError):
            _BWRAP_OK[path] = False
    return _BWRAP_OK[path]


def _needed_under_tmp() -> list[Path]:
    """What the kernel needs that lies under /tmp: the Python installation and coursekit itself."""
    import coursekit

    tmp = Path("/tmp").resolve()
    needed = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, Path(sys.executable).resolve().parent,
                                          Path(coursekit.__file__).parent)}
    return sorted(p for p in needed if tmp in p.parents)


def kernel_argv(workdir: Path, hidden: Iterable[Path], memory: int, isolate: bool = True,
                channels: Path | None = None) -> list[str]:
    """The command line of a kernel for one submission.

    Parameters
    ----------
    workdir : Path
        The student's work folder: the notebook's cwd, $HOME, and writable.
    hidden : paths
        Folders the kernel must not see (they appear empty).
    memory : int
        Address-space cap of the kernel in bytes.
    isolate : bool
        Use bubblewrap if it works here.
    channels : Path, optional
        The folder of the kernel's connection file and sockets (jupyter's "ipc" transport: the
        kernel has no network to listen on), writable too.

    Returns
    -------
    list of str
        With ``{connection_file}`` where jupyter_client puts the connection file's path.
    """
    kernel = [sys.executable, "-c", _LAUNCH, str(int(memory)), "{connection_file}"]
    tool = bwrap() if isolate else None
    if tool is None:
        if isolate:
            warnings.warn(NOT_ISOLATED, SandboxWarning, stacklevel=2)
        return kernel
    workdir = Path(workdir).resolve()
    args = [tool, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in _needed_under_tmp():  # a venv or a checkout in /tmp must stay visible
        args += ["--ro-bind", str(path), str(path)]
    for path in sorted({Path(p).resolve() for p in hidden}):
        if path.is_dir():  # mounted before the work folder, which may lie inside it
            args += ["--tmpfs", str(path)]
        elif path.is_file():
            args += ["--ro-bind", "/dev/null", str(path)]
    args += ["--bind", str(workdir), str(workdir)]
    channels = None if channels is None else Path(channels).resolve()
    if channels is not None and channels != workdir:
        args += ["--bind", str(channels), str(channels)]
    # In its own process namespace the kernel's parent is bwrap's pid 1, which ipykernel takes for
    # an orphaned kernel's when it is told a parent to watch: --die-with-parent does that job.
    args += ["--chdir", str(workdir), "--setenv", "HOME", str(workdir), *NAMESPACES,
             "--die-with-parent", "--new-session", "--unsetenv", "JPY_PARENT_PID"]
    for name, value in KERNEL_ENV.items():
        args += ["--setenv", name, value]
    return [*args, "--", *kernel]


#: The only variables a kernel inherits: nothing else of the grader's environment (a database
#: password, tokens) reaches student code.
INHERITED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "VIRTUAL_ENV", "PYTHONPATH", "SYSTEMROOT")


def kernel_env(workdir: Path | None = None) -> dict[str, str]:
    """The environment of a student's kernel: a few inherited variables, the BLAS and plotting
    settings, and ``HOME`` set to the work folder."""
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    if workdir is not None:
        env["HOME"] = str(workdir)
    return {**env, **KERNEL_ENV}
