"""Find each student's notebooks in a folder of submissions, and say what is wrong with them.

A submissions folder holds either one folder per student (named by the student's id, with the
notebooks anywhere inside) or loose ``<student>.ipynb`` files, or a mix of both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")


@dataclass
class Submission:
    """One student's hand-in for one assignment.

    Attributes
    ----------
    student : str
        The student's id.
    notebooks : dict of str to Path
        Expected notebook name -> the file handed in for it.
    notes : list of str
        Things the instructor should know that did not stop grading (a renamed notebook, ...).
    failures : dict of str to str
        Expected notebook name -> why it cannot be graded (missing, not JSON, ...).
    """

    student: str
    notebooks: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)


class IntakeError(Exception):
    """The submissions path itself cannot be read."""


def collect(submissions: str | Path, notebook_names: list[str]) -> tuple[list[Submission], list[str]]:
    """Gather every student's notebooks.

    Parameters
    ----------
    submissions : path
        Folder of per-student folders and/or loose ``<student>.ipynb`` files.
    notebook_names : list of str
        The assignment's notebooks, without ``.ipynb``.

    Returns
    -------
    submissions : list of Submission, sorted by student id
    skipped : list of str
        Entries that were not taken as a student, with the reason.
    """
    root = Path(submissions)
    if not root.is_dir():
        raise IntakeError(f"submissions folder {root} does not exist or is not a folder")
    found: dict[str, Submission] = {}
    skipped: list[str] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        loose = False
        if entry.is_dir():
            student, files = entry.name, _notebooks_in(entry)
        elif entry.suffix == ".ipynb":
            student, files, loose = entry.stem, [entry], True
        else:
            skipped.append(f"{entry.name}: not a folder or a .ipynb file")
            continue
        if not STUDENT_ID.match(student):
            skipped.append(f"{entry.name}: {student!r} is not a usable student id (letters, digits, _.@+-)")
            continue
        if student in found:
            skipped.append(f"{entry.name}: a second submission for {student}; the folder is used")
            continue
        found[student] = _match(student, files, notebook_names, loose)
    return [found[s] for s in sorted(found)], skipped


def _notebooks_in(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts and p.is_file() and not p.is_symlink()
    )


def _match(student: str, files: list[Path], names: list[str], loose: bool) -> Submission:
    """Pair the expected notebooks with the files found. A loose ``<student>.ipynb`` is named
    after its student, so it stands for the assignment's only notebook without being a rename."""
    submission = Submission(student)
    by_name: dict[str, list[Path]] = {}
    for f in files:
        by_name.setdefault(f.stem, []).append(f)
    unclaimed = [f for f in files if f.stem not in names]
    for name in names:
        candidates = by_name.get(name, [])
        if len(candidates) > 1:
            submission.notes.append(
                f"{name}.ipynb handed in {len(candidates)} times; graded "
                f"{candidates[0].as_posix()}"
            )
        if candidates:
            submission.notebooks[name] = candidates[0]
        elif len(names) == 1 and len(unclaimed) == 1:
            submission.notebooks[name] = unclaimed[0]
            if not loose:
                submission.notes.append(
                    f"notebook was renamed to {unclaimed[0].name}; graded as {name}.ipynb"
                )
        else:
            extra = f" (found {', '.join(f.name for f in unclaimed)})" if unclaimed else ""
            submission.failures[name] = f"no {name}.ipynb handed in{extra}"
    for name, path in list(submission.notebooks.items()):
        problem = unreadable_reason(path)
        if problem:
            del submission.notebooks[name]
            submission.failures[name] = problem
    return submission


def unreadable_reason(path: Path) -> str | None:
    """Why a notebook file cannot be graded, or None if nbformat can read it."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        return f"cannot read the file: {error.strerror}"
    if not raw.strip():
        return "the file is empty"
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"not a valid notebook: the file is not JSON ({error})"
    if not isinstance(data, dict) or "cells" not in data:
        return "not a valid notebook: no list of cells"
    if data.get("nbformat") != 4:
        return f"unsupported notebook format version {data.get('nbformat')!r} (needs 4)"
    try:
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several kinds for a malformed notebook
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"not a valid notebook: {first_line}"
    return None
