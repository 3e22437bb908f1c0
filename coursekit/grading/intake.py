"""Find each student's notebooks in a hand-in, and say what is wrong with them.

A hand-in is one of

- a folder holding one folder per student (named by the student's id, with the notebooks anywhere
  inside) and/or loose ``<student>.ipynb`` files;
- a ``.zip`` downloaded from a learning management system (LMS). Each entry's name says whose it is;
  :data:`LMS_PATTERN` reads Canvas's names and :data:`MOODLE_PATTERN` Moodle's folders. The notebooks
  are extracted, with care, into ``<workdir>/<student>/``.

Optionally, a due date marks late hand-ins and a roster adds the students who handed in nothing.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import stat
import tempfile
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path, PurePosixPath

import nbformat

#: A usable student id, matched in full: a letter or digit (of any script), then up to 99 letters,
#: digits or ``_.@+-``. It names files and folders, so it holds no space, slash or dot first.
STUDENT_ID = re.compile(r"[^\W_][\w.@+-]{0,99}")
#: Bytes an id may take: it names files (``results/<id>.tmp<pid>``) within the usual 255.
MAX_ID_BYTES = 200
ID_RULE = f"a letter or digit, then letters, digits, _.@+-; at most 100 of them and {MAX_ID_BYTES} bytes"


def usable_id(student: str) -> bool:
    """Whether ``student`` is a :data:`STUDENT_ID` short enough to name files."""
    return bool(STUDENT_ID.fullmatch(student)) and len(student.encode()) <= MAX_ID_BYTES

#: Canvas ("Download Submissions"): a flat zip of files named
#: ``<name>_[late_]<user id>_<submission id>_<original file name>``, e.g.
#: ``doejane_late_123456_7890123_perceptron.ipynb``, where ``<name>`` is the student's last and first
#: name run together in lower case (``anon_<key>`` under anonymous grading). Matched against each
#: entry's base name. The user id is what a Canvas roster's ``ID`` column holds.
LMS_PATTERN = (
    r"(?P<student>[^/]+?)_(?:(?P<late>(?i:late))_)?(?P<user_id>\d+)_(?P<submission_id>\d+)_(?P<filename>[^/]+)"
)

#: Moodle ("Download all submissions"): one folder per student,
#: ``<Full Name>_<participant id>_assignsubmission_file_/<file>``. Matched against the entry's whole path.
MOODLE_PATTERN = (
    r"(?P<student>[^/]+?)_(?P<participant_id>\d+)_assignsubmission_file_/(?:.*/)?(?P<filename>[^/]+)"
)

#: Why a student on the roster who handed in nothing has no notebook.
ABSENT = "no submission handed in"

#: The note of a submission that the LMS's file name marks late (Canvas's ``late`` in the name).
LMS_LATE_NOTE = "the LMS marked this submission late"

MB = 1024**2
MAX_TOTAL_BYTES = 200 * MB
MAX_ENTRY_BYTES = 50 * MB
MAX_ENTRIES = 10_000
ROSTER_COLUMNS = ("student_id", "id", "username")
#: A roster's column of names (Canvas's gradebook export has "Student"), read if it is there.
ROSTER_NAME_COLUMNS = ("student", "name")
_CHUNK = MB


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
        Things the instructor should know that did not stop grading (a renamed notebook, lateness, ...).
    failures : dict of str to str
        Expected notebook name -> why it cannot be graded (missing, not JSON, ...).
    submitted_at : datetime or None
        When the newest notebook was handed in (timezone-aware, UTC); None if there is none.
    late_by : timedelta or None
        How long after the due date it was handed in; None when on time or without a due date.
    """

    student: str
    notebooks: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    submitted_at: datetime | None = None
    late_by: timedelta | None = None


class IntakeError(Exception):
    """The submissions (or the roster) cannot be read."""


class OptionError(ValueError):
    """An option of a grading run is malformed (a pattern, a limit): the caller's mistake."""


def printable(text: str) -> str:
    """``text`` with control characters escaped: a file name in a zip or a student's error message
    must not drive the terminal (clear it, retitle it, hide lines)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def check_submissions(path: str | Path) -> None:
    """Raise :class:`IntakeError` unless ``path`` is a folder or a ``.zip`` file."""
    path = Path(path)
    if not (path.is_dir() or (path.is_file() and path.suffix.lower() == ".zip")):
        raise IntakeError(f"submissions {path} is neither a folder nor a .zip file")


def collect(
    submissions: str | Path,
    notebook_names: list[str],
    *,
    pattern: str | re.Pattern[str] = LMS_PATTERN,
    workdir: str | Path | None = None,
    tz: tzinfo | None = None,
    due: datetime | None = None,
    roster: str | Path | None = None,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_entry_bytes: int = MAX_ENTRY_BYTES,
    max_entries: int = MAX_ENTRIES,
) -> tuple[list[Submission], list[str]]:
    """Gather every student's notebooks.

    Parameters
    ----------
    submissions : path
        A folder of per-student folders and/or loose ``<student>.ipynb`` files, or an LMS ``.zip``.
    notebook_names : list of str
        The assignment's notebooks, without ``.ipynb``.
    pattern : str or compiled regular expression
        For a zip: says whose each entry is. It must have a named group ``student``; it is tried
        (``fullmatch``) on the entry's base name, then on its whole path. An optional group ``filename``
        names the extracted file (the base name otherwise); a non-empty group ``late`` adds a note.
        Names taken from the zip are made into ids by :func:`normalise_student`.
    workdir : path, optional
        For a zip: where the notebooks are extracted, as ``<workdir>/<student>/<file>``. A new
        temporary folder by default; it is left in place, since the returned paths point into it.
    tz : tzinfo, optional
        The time zone of the zip's (naive) entry times and of a naive ``due``; UTC by default.
    due : datetime, optional
        The deadline, for a folder: a notebook modified later gets ``late_by`` and a note such as
        ``"late by 2 h 05 min"``. Not for a zip, whose entry times are when the LMS built it
        (Canvas), not when each student handed in: there the LMS's own mark (the ``late`` group)
        says who was late.
    roster : path, optional
        A CSV whose header has a ``student_id`` (or ``id``, or ``username``) column. Students on it
        who handed in nothing get a Submission whose every notebook fails with "no submission handed
        in"; students not on it are still graded, with the note "not on the roster". A roster id
        also finds a submission whose id differs only in case, or, in a zip, whose LMS user id
        (the ``user_id`` or ``participant_id`` group) it is; that submission takes the roster's id.
        A user id is not matched if the roster has a name column (``Student`` or ``name``) that
        names someone else there: both are kept apart, with a note saying why.
    max_total_bytes, max_entry_bytes, max_entries : int
        For a zip: caps on the bytes extracted in all, per entry, and on the entries read.

    Returns
    -------
    submissions : list of Submission, sorted by student id
    skipped : list of str
        Entries that were not taken as (part of) a submission, with the reason.

    Raises
    ------
    IntakeError
        If the submissions are neither a folder nor a readable zip, hold no submission at all, or
        the roster is unusable.
    ValueError
        If an argument is malformed (a pattern without ``student``, a cap below 1, a due date for
        a zip, ...).
    """
    tz = _check_tz(tz)
    due = _check_due(due, tz)
    check_submissions(submissions)
    root = Path(submissions)
    lms_users: dict[str, tuple[str, str]] = {}
    if root.is_dir():
        found, skipped = _collect_folder(root, notebook_names)
    else:
        if due is not None:
            raise OptionError("a due date cannot be judged from a zip: its entry times are when the "
                              "LMS built it, not when each student handed in (the LMS marks late "
                              "hand-ins in their names)")
        limits = {"max_total_bytes": max_total_bytes, "max_entry_bytes": max_entry_bytes,
                  "max_entries": max_entries}
        for name, value in limits.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        found, skipped, lms_users = _collect_zip(root, notebook_names, check_pattern(pattern), workdir,
                                               tz, max_total_bytes, max_entry_bytes, max_entries)
    if not found:  # checked before the roster, which would make a class of absentees
        more = f", and {len(skipped) - 1} more" if len(skipped) > 1 else ""
        detail = f"; skipped {skipped[0]}{more}" if skipped else ""
        raise IntakeError(f"no submissions found in {root}{detail}")
    if due is not None:
        for submission in found.values():
            _mark_lateness(submission, due)
    if roster is not None:
        found = _apply_roster(found, _read_roster(roster), notebook_names, lms_users)
    return [found[s] for s in sorted(found)], skipped


# -- a folder ---------------------------------------------------------------------------------------


def _collect_folder(root: Path, names: list[str]) -> tuple[dict[str, Submission], list[str]]:
    found: dict[str, Submission] = {}
    skipped: list[str] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():  # it could point at anything, the course's answers included
            skipped.append(f"{entry.name}: a symbolic link; not followed")
            continue
        loose = False
        if entry.is_dir():
            student, files, base = entry.name, _notebooks_in(entry), entry
        elif entry.suffix.lower() == ".ipynb":
            student, files, base, loose = entry.stem, [entry], root, True
        else:
            skipped.append(f"{entry.name}: not a folder or a .ipynb file")
            continue
        if not usable_id(student):
            skipped.append(f"{entry.name}: {student!r} is not a usable student id ({ID_RULE})")
            continue
        if student in found:
            skipped.append(f"{entry.name}: a second submission for {student}; the folder is used")
            continue
        found[student] = _match(student, files, names, loose, base)
        times = {f: datetime.fromtimestamp(f.stat().st_mtime, tz=timezone.utc) for f in files}
        found[student].submitted_at = _hand_in_time(found[student], times)
    return found, skipped


def _notebooks_in(folder: Path) -> list[Path]:
    """The notebooks anywhere in a student's folder, but for hidden files and folders (Jupyter's
    checkpoints, macOS's ``._`` copies) and ``__MACOSX``, as in a zip."""
    return sorted(
        p for p in folder.rglob("*")
        if p.suffix.lower() == ".ipynb" and p.is_file() and not p.is_symlink()
        and not any(part.startswith(".") or part == "__MACOSX" for part in p.relative_to(folder).parts)
    )


def _hand_in_time(submission: Submission, times: dict[Path, datetime]) -> datetime | None:
    """When the graded notebooks were handed in (the newest), or any file if none is graded."""
    graded = [times[f] for f in submission.notebooks.values() if f in times]
    return max(graded or times.values(), default=None)


# -- an LMS zip -------------------------------------------------------------------------------------


def normalise_student(name: str) -> str:
    """Turn a name from an LMS download into a student id.

    Accents are dropped (``é`` -> ``e``), letters (of any script) are lower-cased, and every
    character that :data:`STUDENT_ID` does not allow (spaces, commas, apostrophes, ...) is removed:
    ``"José O'Neil"`` -> ``"joseoneil"``, ``"Łukasz"`` -> ``"łukasz"``. The result may still be
    unusable (e.g. empty).
    """
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return re.sub(r"[^\w.@+-]", "", plain.lower())


def _collect_zip(path: Path, names: list[str], pattern: re.Pattern[str], workdir: str | Path | None,
                 tz: tzinfo, max_total: int, max_entry: int, max_entries: int,
                 ) -> tuple[dict[str, Submission], list[str], dict[str, tuple[str, str]]]:
    """The zip's submissions, the entries skipped, and each student's LMS user id (if the pattern
    gives one) with the name that the zip gives, made into an id."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise IntakeError(f"{path} is not a readable zip file ({error})") from error
    out = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="coursekit-intake-"))
    out.mkdir(parents=True, exist_ok=True)
    unzipper = _Unzipper(archive, out.resolve(), pattern, tz, max_total, max_entry)
    with archive:
        entries = archive.infolist()
        if len(entries) > max_entries:
            unzipper.skipped.append(f"{path.name}: {len(entries) - max_entries} entries not read; "
                                    f"the zip holds {len(entries)}, over the cap of {max_entries}")
        entries = entries[:max_entries]
        unzipper.find_shared_names(entries)
        for info in entries:
            unzipper.take(info)
    found = {}
    for student, files in unzipper.files.items():
        submission = _match(student, sorted(files), names, loose=False, base=unzipper.root / student)
        for name, problem in unzipper.unreadable.get(student, {}).items():
            if name in submission.failures:  # say why, rather than that nothing was handed in
                submission.failures[name] = f"{name}.ipynb {problem}"
        submission.submitted_at = _hand_in_time(
            submission, {f: unzipper.times[f] for f in files if f in unzipper.times})
        if student in unzipper.marked_late:
            submission.notes.append(LMS_LATE_NOTE)
        found[student] = submission
    return found, unzipper.skipped, unzipper.lms_users


@dataclass
class _Unzipper:
    """Extracts the notebooks of an LMS zip, one entry at a time, keeping track of whose they are."""

    archive: zipfile.ZipFile
    root: Path
    pattern: re.Pattern[str]
    tz: tzinfo
    max_total: int
    max_entry: int
    written: int = 0
    files: dict[str, list[Path]] = field(default_factory=dict)
    times: dict[Path, datetime] = field(default_factory=dict)  # each extracted file's, from the zip
    entries: dict[Path, str] = field(default_factory=dict)  # each extracted file's name in the zip
    ranks: dict[Path, int | datetime | None] = field(default_factory=dict)  # place in hand-in order
    unreadable: dict[str, dict[str, str]] = field(default_factory=dict)  # student -> stem -> why
    owners: dict[str, str] = field(default_factory=dict)  # student id -> whose: LMS id, or name
    # student id -> the LMS's user id, and the name that the entry gives, normalised
    lms_users: dict[str, tuple[str, str]] = field(default_factory=dict)
    shared_names: set[str] = field(default_factory=set)  # ids that the names of several users give
    marked_late: set[str] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)

    def find_shared_names(self, entries: list[zipfile.ZipInfo]) -> None:
        """Note the names that two users of the LMS share: their ids take the user id too."""
        users: dict[str, set[str]] = {}
        for info in entries:
            match = self._match(info.filename.replace("\\", "/"))
            if match is not None and _lms_id(match):
                users.setdefault(normalise_student(match.group("student")), set()).add(_lms_id(match))
        self.shared_names = {name for name, ids in users.items() if len(ids) > 1}

    def _match(self, path: str) -> re.Match | None:
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if not parts:
            return None
        return self.pattern.fullmatch(parts[-1]) or self.pattern.fullmatch("/".join(parts))

    def _student(self, match: re.Match) -> tuple[str, str]:
        """The student id an entry gives, and whose it is (the LMS user id, or the name)."""
        raw, lms_id = match.group("student"), _lms_id(match)
        student = normalise_student(raw)
        if lms_id and (not usable_id(student) or student in self.shared_names):
            # A name of no usable letters, or one that two users share: the user id tells them apart.
            student = f"{student}_{lms_id}" if usable_id(f"{student}_{lms_id}") else lms_id
        return student, lms_id or raw

    def take(self, info: zipfile.ZipInfo) -> None:
        """Extract one entry if it is a student's notebook; otherwise say why in ``skipped``."""
        problem = self._take(info)
        if problem:
            self.skipped.append(f"{info.filename}: {problem}")

    def _take(self, info: zipfile.ZipInfo) -> str | None:
        if info.is_dir():
            return None
        path = info.filename.replace("\\", "/")
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if path.startswith("/") or re.match(r"[A-Za-z]:", path) or ".." in parts:
            return "unsafe path (absolute or with '..'); not extracted"
        if any(p.startswith(".") or p == "__MACOSX" for p in parts):
            return None  # hidden files and macOS metadata, ignored as in a folder
        if stat.S_ISLNK(info.external_attr >> 16):
            return "a symbolic link; not extracted"
        match = self._match(path)
        if match is None:
            return f"does not match the submission pattern {self.pattern.pattern!r}"
        raw = match.group("student")
        student, owner = self._student(match)
        if not usable_id(student):
            return f"{raw!r} does not give a usable student id ({ID_RULE})"
        first_owner = self.owners.setdefault(student, owner)
        if first_owner != owner:
            return f"{owner!r} and {first_owner!r} both give the id {student!r}; only {first_owner!r} is used"
        if _lms_id(match):
            self.lms_users[student] = (_lms_id(match), normalise_student(raw))
        files = self.files.setdefault(student, [])  # whatever the file, the student handed something in
        if match.groupdict().get("late"):
            self.marked_late.add(student)
        filename = PurePosixPath(match.groupdict().get("filename") or parts[-1]).name
        if not filename.lower().endswith(".ipynb"):
            return "not a .ipynb file"
        target = self.root / student / filename
        when = _zip_time(info, self.tz)
        # Which of two entries of one name was handed in later: the LMS's submission ids grow with
        # time; without them, the zip's times (an LMS may write its own there).
        submission_id = match.groupdict().get("submission_id")
        rank = int(submission_id) if submission_id else when
        if target in files:
            return self._take_again(info, target, when, rank)
        problem = self._extract(info, target)
        if problem:  # the student did hand it in: their failure will say why it is not graded
            self.unreadable.setdefault(student, {})[target.stem] = problem
            return problem
        files.append(target)
        self.entries[target], self.ranks[target] = info.filename, rank
        if when is not None:
            self.times[target] = when
        return None

    def _take_again(self, info: zipfile.ZipInfo, target: Path, when: datetime | None,
                    rank: int | datetime | None) -> str | None:
        """A second entry for a file already extracted: the later hand-in is graded, as the LMS would.

        The later entry is extracted beside the first and put in its place only if it is a
        readable notebook, so that a broken one leaves the first one graded.
        """
        student, filename = target.parent.name, target.name
        earlier = self.ranks.get(target)
        # (a pattern whose submission id is optional may give one entry an id, the other a time)
        if rank is None or earlier is None or type(rank) is not type(earlier) or rank <= earlier:
            return f"a second {filename} for {student}, not handed in later than the one graded; not used"
        staging = target.with_name(target.name + ".newer")
        problem = self._extract(info, staging) or unreadable_reason(staging)
        if problem:
            staging.unlink(missing_ok=True)
            return f"a later {filename} for {student}, not used ({problem}); the earlier one is graded"
        staging.replace(target)
        self.skipped.append(f"{self.entries[target]}: a later {filename} for {student} is graded "
                            f"instead ({info.filename})")
        self.entries[target], self.ranks[target] = info.filename, rank
        if when is not None:
            self.times[target] = when
        return None

    def _extract(self, info: zipfile.ZipInfo, target: Path) -> str | None:
        """Copy the entry in chunks, stopping at the caps even if its header understates its size."""
        if info.file_size > self.max_entry:
            return f"{_size(info.file_size)} uncompressed, over the cap of {_size(self.max_entry)} per file"
        if self.written + info.file_size > self.max_total:
            return f"not extracted: the zip's files would pass the cap of {_size(self.max_total)} in all"
        limit = min(self.max_entry, self.max_total - self.written)
        size = 0
        try:
            target.parent.mkdir(exist_ok=True)
            if not target.resolve().is_relative_to(self.root):
                return "would be written outside the work folder; not extracted"
            with self.archive.open(info) as source, target.open("wb") as sink:
                while chunk := source.read(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        break
                    sink.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as error:
            target.unlink(missing_ok=True)
            return f"cannot be read from the zip ({error})"
        except OSError as error:  # a name too long for the file system, say
            with contextlib.suppress(OSError):
                target.unlink(missing_ok=True)
            return f"cannot be extracted ({error.strerror or error})"
        if size > limit:
            target.unlink()
            return f"larger than its header says; stopped at the cap of {_size(limit)}"
        self.written += size
        return None


def _lms_id(match: re.Match) -> str:
    """The LMS's user id of an entry, from the pattern's ``user_id`` or ``participant_id`` group."""
    groups = match.groupdict()
    return groups.get("user_id") or groups.get("participant_id") or ""


def _zip_time(info: zipfile.ZipInfo, tz: tzinfo) -> datetime | None:
    """A zip stores wall-clock time without a zone: read it in ``tz``, return it in UTC."""
    try:
        return datetime(*info.date_time, tzinfo=tz).astimezone(timezone.utc)
    except ValueError:  # a zip written with a zeroed or nonsense date
        return None


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n} bytes"


def check_pattern(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` compiled, or :class:`OptionError` (a ``ValueError``) if it is not a regular
    expression with a group named ``student``."""
    try:
        compiled = re.compile(pattern)
    except (re.error, TypeError) as error:
        raise OptionError(f"pattern is not a valid regular expression: {error}") from error
    if "student" not in compiled.groupindex:
        raise OptionError(f"pattern must have a named group 'student', got {compiled.pattern!r}")
    return compiled


# -- pairing notebooks with the expected names ------------------------------------------------------


def _match(student: str, files: list[Path], names: list[str], loose: bool, base: Path) -> Submission:
    """Pair the expected notebooks with the files found (under ``base``). A loose
    ``<student>.ipynb`` is named after its student, so it stands for the assignment's only notebook
    without being a rename. Of several copies of a notebook, the readable one nearest ``base`` is
    graded."""
    submission = Submission(student)
    by_name: dict[str, list[Path]] = {}
    for f in sorted(files, key=lambda f: (len(f.parts), f)):
        by_name.setdefault(f.stem, []).append(f)
    unclaimed = [f for f in files if f.stem not in names]
    for name in names:
        candidates = by_name.get(name, [])
        if len(candidates) > 1:
            candidates.sort(key=lambda f: unreadable_reason(f) is not None)  # stable: nearest first
            submission.notes.append(
                f"{name}.ipynb handed in {len(candidates)} times; graded "
                f"{candidates[0].relative_to(base).as_posix()}"
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
    ignored = [f for f in unclaimed if f not in submission.notebooks.values()]
    if ignored and not submission.failures:
        submission.notes.append(
            f"also handed in, not graded: {', '.join(f.name for f in ignored)} (graded: "
            f"{', '.join(f.name for f in submission.notebooks.values())})"
        )
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


# -- due date -------------------------------------------------------------------------------------


def _check_tz(tz: tzinfo | None) -> tzinfo:
    if tz is None:
        return timezone.utc
    if not isinstance(tz, tzinfo):
        raise ValueError(f"tz must be a datetime.tzinfo (e.g. zoneinfo.ZoneInfo), got {tz!r}")
    return tz


def _check_due(due: datetime | None, tz: tzinfo) -> datetime | None:
    if due is None:
        return None
    if not isinstance(due, datetime):
        raise ValueError(f"due must be a datetime, got {type(due).__name__}")
    return due if due.tzinfo is not None else due.replace(tzinfo=tz)


def _mark_lateness(submission: Submission, due: datetime) -> None:
    if submission.submitted_at is None or submission.submitted_at <= due:
        return
    submission.late_by = submission.submitted_at - due
    submission.notes.append(f"late by {describe_delay(submission.late_by)}")


def describe_delay(delay: timedelta) -> str:
    """A delay in words: ``"45 s"``, ``"7 min"``, ``"2 h 05 min"``, ``"3 d 0 h 10 min"`` (seconds dropped
    once it is a minute or more)."""
    seconds = int(delay.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h {minutes:02d} min"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


# -- roster ---------------------------------------------------------------------------------------


def read_roster(path: str | Path) -> list[str]:
    """The student ids of a roster CSV, in its order, without repeats or blank ids.

    The id column is the first of ``student_id``, ``id``, ``username`` found in the header (compared
    ignoring case and surrounding spaces). An id names a student's folder (in any case) or, in an
    LMS zip, a user id (Canvas's ``ID`` column) or the name made into an id by
    :func:`normalise_student`. A column of names (``Student`` or ``name``), if there is one, guards
    the matches by user id (see :func:`collect`); other columns are ignored.

    Raises
    ------
    IntakeError
        If the file cannot be read, has no id column, or holds an id that is not usable.
    """
    return list(_read_roster(path))


def _read_roster(path: str | Path) -> dict[str, str]:
    """The roster's ids, in order, each with its name ("" if the roster has no name column)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's export often starts with a BOM
    except (OSError, UnicodeDecodeError) as error:
        raise IntakeError(f"cannot read the roster {path}: {error}") from error
    reader = csv.DictReader(io.StringIO(text))
    header = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
    column = next((header[c] for c in ROSTER_COLUMNS if c in header), None)
    if column is None:
        raise IntakeError(f"roster {path} needs a column named {', '.join(ROSTER_COLUMNS)} "
                          f"(its header is {list(reader.fieldnames or [])})")
    name_column = next((header[c] for c in ROSTER_NAME_COLUMNS if c in header), None)
    ids: dict[str, str] = {}
    for row in reader:
        student = (row.get(column) or "").strip()
        if not student:
            continue
        if not usable_id(student):
            raise IntakeError(f"roster {path}, line {reader.line_num}: {student!r} is not a usable "
                              f"student id ({ID_RULE})")
        name = (row.get(name_column) or "").strip() if name_column else ""
        ids.setdefault(student, name)
    return ids


def _apply_roster(found: dict[str, Submission], roster: dict[str, str], names: list[str],
                  lms_users: dict[str, tuple[str, str]]) -> dict[str, Submission]:
    """The submissions under the roster's ids, plus an empty one for each absent student.

    ``roster`` maps each id to its name ("" if unknown); ``lms_users`` maps a zip's student ids to
    their LMS user id and name. A roster id finds its submission by the same id, then by the same
    id in another case, then (for a zip) by the submission's LMS user id, unless the roster names
    someone else there; the submission then takes the roster's id.
    """
    result: dict[str, Submission] = {}
    for listed in roster:  # exact ids first, so that a looser match cannot take another's work
        if listed in found:
            result[listed] = found.pop(listed)
    by_name: dict[str, str] = {}
    for student in found:
        by_name.setdefault(student.casefold(), student)
    by_user = {lms_id: student for student, (lms_id, _) in lms_users.items() if student in found}
    matches: dict[str, Submission] = {}  # roster id -> the submission it finds
    for listed in roster:  # ids in another case before user ids, which may be numbers of another kind
        student = by_name.get(listed.casefold())
        if listed not in result and student is not None and student in found:
            matches[listed] = found.pop(student)
    for listed, name in roster.items():
        student = by_user.get(listed)
        if listed in result or listed in matches or student not in found:
            continue
        if name and normalise_student(name) != lms_users[student][1]:
            # The roster holds another system's numbers, one of which is someone else's user id.
            note = (f"the roster's id {listed} ({printable(name)}) is the LMS user id of the "
                    f"submission {student}, under another name: not matched")
            found[student].notes.append(note)
            result[listed] = Submission(listed, failures=dict.fromkeys(names, ABSENT), notes=[note])
            continue
        matches[listed] = found.pop(student)
    for listed in roster:
        if listed in result:
            continue
        submission = matches.get(listed)
        if submission is None:
            result[listed] = Submission(listed, failures=dict.fromkeys(names, ABSENT))
            continue
        submission.notes.append(f"handed in as {submission.student}")
        submission.student = listed
        result[listed] = submission
    for student, submission in found.items():
        submission.notes.append("not on the roster")
        result.setdefault(student, submission)
    return result
