"""A grading run's scratch folder: removed when the run ends, and by the next run when it was killed."""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from coursekit.grading import kernel, scratch
from coursekit.grading.scratch import LOCK, PREFIX, STARTING, remove_abandoned, run_scratch

HOLDER = """
import sys, time
from pathlib import Path
from coursekit.grading.scratch import run_scratch
with run_scratch(sys.argv[1]) as folder:
    (Path(folder) / "work").mkdir()
    print(folder, flush=True)
    time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path):
    """A process in the middle of a run: its scratch folder in tmp_path, with a work folder in it."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                               stdout=subprocess.PIPE, text=True)
    folder = Path(process.stdout.readline().strip())
    yield process, folder
    process.kill()
    process.wait()
    process.stdout.close()


@pytest.fixture
def killed_holder(holder):
    """The folder of a run killed outright (kill -9): nothing could clean up at that moment."""
    process, folder = holder
    process.send_signal(signal.SIGKILL)
    process.wait()
    return folder


def test_a_run_removes_its_folder_when_it_ends_or_fails(tmp_path):
    with run_scratch(tmp_path) as folder:
        assert Path(folder).parent == tmp_path and (Path(folder) / LOCK).is_file()
        (Path(folder) / "student" / "notebook.ipynb").parent.mkdir()
    assert not Path(folder).exists()
    with pytest.raises(KeyboardInterrupt), run_scratch(tmp_path) as folder:
        raise KeyboardInterrupt
    assert not Path(folder).exists()
    assert list(tmp_path.iterdir()) == []


def test_a_running_graders_folder_is_kept(holder, tmp_path):
    process, folder = holder
    assert remove_abandoned(tmp_path) == []
    with run_scratch(tmp_path) as mine:  # another run starting meanwhile
        assert (folder / "work").is_dir()
        assert remove_abandoned(tmp_path) == []  # nor is this run's own folder taken for abandoned
    assert not Path(mine).exists() and (folder / "work").is_dir()


def test_a_killed_graders_folder_is_removed_by_the_next_run(killed_holder, tmp_path):
    folder = killed_holder
    assert (folder / "work").is_dir()  # nothing could clean up at that moment
    with run_scratch(tmp_path) as mine:
        assert not folder.exists()
        assert [p.name for p in tmp_path.iterdir()] == [Path(mine).name]


def test_a_starting_run_never_shows_its_lock_file_unlocked(tmp_path, monkeypatch):
    # Another run sweeps at the moment this one makes its lock file: it must not take the folder.
    swept = []
    real_flock = scratch.fcntl.flock

    def flock_after_a_sweep(fd, operation):
        if not swept:
            swept.append("sweeping")
            swept[0] = remove_abandoned(tmp_path)
        real_flock(fd, operation)

    monkeypatch.setattr(scratch.fcntl, "flock", flock_after_a_sweep)
    with run_scratch(tmp_path) as folder:
        assert swept == [[]] and (Path(folder) / LOCK).is_file()


def test_what_cannot_be_removed_yet_stays_locked_for_a_later_run(killed_holder, tmp_path, monkeypatch):
    folder = killed_holder
    monkeypatch.setattr(scratch.shutil, "rmtree", lambda *args, **kwargs: None)  # say, still in use
    assert remove_abandoned(tmp_path) == []
    assert (folder / "work").is_dir() and (folder / LOCK).is_file()
    monkeypatch.undo()
    assert remove_abandoned(tmp_path) == [folder] and not folder.exists()


def test_another_users_folders_and_planted_files_are_left_alone(killed_holder, tmp_path, monkeypatch):
    folder = killed_holder
    another_user = os.getuid() + 1
    monkeypatch.setattr(scratch.os, "getuid", lambda: another_user)  # as seen by another user
    assert remove_abandoned(tmp_path) == [] and folder.exists()
    monkeypatch.undo()
    # A link under the prefix, and a FIFO under the lock's name, which would block a plain open().
    outside = tmp_path / "elsewhere"
    (outside / "precious").mkdir(parents=True)
    (outside / LOCK).touch()
    (tmp_path / f"{PREFIX}link").symlink_to(outside)
    fifo = tmp_path / f"{PREFIX}fifo"
    fifo.mkdir()
    os.mkfifo(fifo / LOCK)
    sweep = threading.Thread(target=lambda: swept.append(remove_abandoned(tmp_path)), daemon=True)
    swept = []
    sweep.start()
    sweep.join(timeout=10)
    assert swept == [[folder]], "the sweep hung or took the wrong folders"
    assert (outside / "precious").is_dir() and (fifo / LOCK).exists()


KILLED_STARTING = """
import os, signal, sys
from coursekit.grading import scratch
scratch.fcntl.flock = lambda fd, operation: os.kill(os.getpid(), signal.SIGKILL)
with scratch.run_scratch(sys.argv[1]):
    pass
"""


def test_a_run_killed_as_it_started_is_removed_once_it_cannot_be_starting(tmp_path):
    # Killed after making its folder, before its lock file was in place: no lock to test.
    subprocess.run([sys.executable, "-c", KILLED_STARTING, str(tmp_path)], check=False)
    [folder] = tmp_path.iterdir()
    assert LOCK not in [p.name for p in folder.iterdir()]
    assert remove_abandoned(tmp_path) == []  # it might be a run starting this moment
    long_ago = time.time() - STARTING - 1
    os.utime(folder, (long_ago, long_ago))
    assert remove_abandoned(tmp_path) == [folder] and list(tmp_path.iterdir()) == []


def test_a_runs_folder_goes_where_its_kernels_sockets_fit(tmp_path, short_tmp, monkeypatch):
    # A Unix socket's path has at most 107 bytes: under a deep TMPDIR the run's folder is made in
    # /tmp, so that the kernels' sockets are inside it and go with it.
    monkeypatch.setattr(scratch, "SHORT_TMP", str(short_tmp))
    deep = tmp_path / ("d" * 60)
    deep.mkdir()
    for tmpdir, expected in ((short_tmp, short_tmp), (deep, short_tmp)):
        monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
        with run_scratch() as folder:
            assert Path(folder).parent == expected
            assert kernel._socket_folder(folder).parent == Path(folder)
        assert list(short_tmp.iterdir()) == [] and list(deep.iterdir()) == []


def test_folders_that_are_not_abandoned_runs_are_left_alone(tmp_path):
    starting = tmp_path / f"{PREFIX}starting"  # made, its lock file not yet
    starting.mkdir()
    (tmp_path / f"{PREFIX}a-file").write_text("not a folder")
    other = tmp_path / "coursekit-kernel-abc"
    other.mkdir()
    (other / LOCK).touch()
    assert remove_abandoned(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [starting.name, f"{PREFIX}a-file", other.name]
    )


#: Runs a command as a process that file permissions apply to: as root, without the capabilities
#: that let it ignore them.
UNPRIVILEGED = [] if os.geteuid() else ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def locked_up_work_folder(parent: Path) -> Path:
    """A work folder as a student's code may leave it: folders without write or search permission,
    and a link to a folder outside."""
    work = parent / "work"
    (work / "sealed" / "deeper").mkdir(parents=True)
    (work / "sealed" / "deeper" / "answer.txt").write_text("42")
    (parent / "outside").mkdir(mode=0o755)
    (work / "link").symlink_to(parent / "outside")
    for folder, mode in [(work / "sealed" / "deeper", 0), (work / "sealed", 0o500), (work, 0o500)]:
        os.chmod(folder, mode)
    return work


@pytest.mark.parametrize("remove", ["shutil.rmtree", "remove_tree"])
def test_a_work_folder_a_student_locked_up_is_removed_all_the_same(remove, tmp_path):
    work = locked_up_work_folder(tmp_path)
    code = {"shutil.rmtree": "import shutil, sys; shutil.rmtree(sys.argv[1], ignore_errors=True)",
            "remove_tree": "import sys, coursekit.grading.scratch as s; s.remove_tree(sys.argv[1])"}
    subprocess.run([*UNPRIVILEGED, sys.executable, "-c", code[remove], str(work)], check=True)
    if remove == "shutil.rmtree":  # the trouble is real: alone, rmtree leaves it behind
        assert (work / "sealed").exists()
        for folder in (work, work / "sealed", work / "sealed" / "deeper"):
            os.chmod(folder, 0o700)  # so that pytest can clean up
    else:
        assert not work.exists()
    assert (tmp_path / "outside").stat().st_mode & 0o777 == 0o755  # the link was not followed
