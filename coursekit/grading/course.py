"""Where a course's pieces live: the nbgrader course directory and the instructor's notebooks."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

CONFIG_NAME = "nbgrader_config.py"


class CourseError(Exception):
    """The course directory or an assignment in it is missing or malformed."""


@dataclass(frozen=True)
class Course:
    """An nbgrader course directory whose ``source_directory`` holds the instructor's notebooks.

    Attributes
    ----------
    root : Path
        The course directory (``autograder/``), with its ``nbgrader_config.py``.
    source : Path
        The instructor's notebooks (``solutions/``), one folder per assignment.
    release : Path
        Where student versions are generated (``lessons/``).
    """

    root: Path
    source: Path
    release: Path

    @classmethod
    def find(cls, start: str | os.PathLike | None = None) -> Course:
        """The course at ``start``: a course directory, or a folder with an ``autograder/`` in it
        or in one of its parents."""
        here = Path(start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            for candidate in (folder, folder / "autograder"):
                if (candidate / CONFIG_NAME).is_file():
                    return cls.load(candidate)
        raise CourseError(
            f"no nbgrader course found at or above {here}: expected a folder with {CONFIG_NAME} "
            "(pass --course DIR)"
        )

    @classmethod
    def load(cls, root: str | os.PathLike) -> Course:
        """Read the course directory's ``nbgrader_config.py``."""
        root = Path(root).resolve()
        config = cls.config_of(root)
        directory = config.CourseDirectory
        source = root / directory.get("source_directory", "source")
        release = root / directory.get("release_directory", "release")
        if not source.is_dir():
            raise CourseError(f"the course's source directory {source} does not exist")
        return cls(root, source.resolve(), release.resolve())

    @staticmethod
    def config_of(root: Path) -> Config:
        path = root / CONFIG_NAME
        if not path.is_file():
            raise CourseError(f"{root} is not an nbgrader course: it has no {CONFIG_NAME}")
        return PyFileConfigLoader(CONFIG_NAME, path=str(root)).load_config()

    def assignments(self) -> list[str]:
        """Assignment ids: the folders of the source directory that hold notebooks."""
        return sorted(p.name for p in self.source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))

    def notebooks(self, assignment: str) -> list[str]:
        """Notebook names (without ``.ipynb``) of one assignment."""
        folder = self.source / assignment
        if assignment not in self.assignments():
            known = ", ".join(self.assignments()) or "none"
            raise CourseError(f"unknown assignment {assignment!r}; known: {known}")
        return sorted(p.stem for p in folder.glob("*.ipynb"))


def ensure_scripts_on_path() -> None:
    """Put this Python's scripts folder (``.venv/bin``) on ``PATH``.

    nbgrader runs its ``alembic`` migrations tool by name whenever it opens a new gradebook, so it
    must be found even when the venv is not activated.
    """
    scripts = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    if scripts not in path.split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + path


def nbgrader_api(config: Config):
    """An ``NbGraderAPI`` for ``config``, with nbgrader's helper programs reachable."""
    from nbgrader.apps import NbGraderAPI

    ensure_scripts_on_path()
    return NbGraderAPI(config=config)
