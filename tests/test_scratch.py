"""A grading run's scratch folder: removed when the run ends, and by the next run when it was killed."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from coursekit.grading.scratch import LOCK, PREFIX, remove_abandoned, run_scratch

HOLDER = """
import sys, time
from coursekit.grading.scratch import run_scratch
with run_scratch(sys.argv[1]) as folder:
    (__import__("pathlib").Path(folder) / "work").mkdir()
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


def test_a_killed_graders_folder_is_removed_by_the_next_run(holder, tmp_path):
    process, folder = holder
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (folder / "work").is_dir()  # nothing could clean up at that moment
    with run_scratch(tmp_path) as mine:
        assert not folder.exists()
        assert [p.name for p in tmp_path.iterdir()] == [Path(mine).name]


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
