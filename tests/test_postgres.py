"""A PostgreSQL gradebook filled by several graders at once, as when a class is split across machines.

The test starts its own PostgreSQL server (Debian's ``postgresql`` package, as ``.ci/run`` installs
it), grades the demo class of lesson 1 from three ``coursekit grade --shard K/3`` processes sharing
one database, and checks the gradebook through nbgrader's own API.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from demo_class import EXPECTED, TOTALS
from notebooks import ROOT

from coursekit.grading.course import Course
from coursekit.grading.demo import make_demo_class
from coursekit.grading.pipeline import grade


def _server_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: Debian keeps them off PATH, one folder per version."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


PG_BIN = _server_bin()
MISSING = [what for what, absent in [
    ("the PostgreSQL server (`apt-get install postgresql`, as .ci/run does)", PG_BIN is None),
    ("psycopg2 (`pip install -e '.[dev]'`)", importlib.util.find_spec("psycopg2") is None),
] if absent]
if MISSING and os.environ.get("COURSEKIT_SKIP_POSTGRES") != "1":
    pytest.fail(
        f"missing {' and '.join(MISSING)}; or set COURSEKIT_SKIP_POSTGRES=1 to leave the PostgreSQL "
        "tests out on purpose",
        pytrace=False,
    )
if MISSING:
    pytest.skip("COURSEKIT_SKIP_POSTGRES=1", allow_module_level=True)

COURSE = Course.load(ROOT / "autograder")
ASSIGNMENT = "01-perceptron"
SHARDS = 3
TIMEOUT = "10"


# -- the server -------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running PostgreSQL server on loopback whose superuser ``postgres`` needs no password."""

    port: int

    def create_database(self, name: str) -> str:
        """Create an empty database; return its SQLAlchemy URL, as ``--db-url`` takes it."""
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        try:
            connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{name}"

    def count(self, db_url: str, table: str) -> int:
        """Rows of one table, counted by SQL rather than through nbgrader."""
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                      dbname=db_url.rsplit("/", 1)[1])
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM {table}")
                return cursor.fetchone()[0]
        finally:
            connection.close()


@pytest.fixture(scope="module")
def postgres():
    """Start a throwaway server for this module and stop it afterwards, whatever happened."""
    # PostgreSQL refuses to run as root: as root, run it as the `postgres` user of Debian's package,
    # in a folder that user owns (pytest's own temporary folders are closed to other users).
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="coursekit-pg-"))
    data, log = base / "data", base / "server.log"
    port = free_port()
    pg_ctl = [*as_owner, str(PG_BIN / "pg_ctl"), "-D", str(data)]
    try:
        if as_owner:
            shutil.chown(base, user="postgres")
        subprocess.run([*as_owner, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                        "--no-sync"], check=True, capture_output=True, timeout=120)
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        started = subprocess.run([*pg_ctl, "-o", options, "-l", str(log), "-w", "-t", "60", "start"],
                                 capture_output=True, text=True, timeout=90)
        if started.returncode != 0:
            server_log = log.read_text() if log.is_file() else ""
            raise RuntimeError(f"PostgreSQL did not start:\n{started.stdout}{started.stderr}\n{server_log}")
        yield Server(port)
    finally:
        if (data / "postmaster.pid").is_file():
            subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


# -- grading ----------------------------------------------------------------------------------------

def cli_env() -> dict[str, str]:
    """The environment of a plain `nbgrader` command: like any nbgrader install, it expects its
    scripts (`alembic`) on PATH, i.e. the venv activated. `coursekit grade` does not need this."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def grade_command(submissions: Path, out: Path, db_url: str, shard: int, shards: int = SHARDS) -> list[str]:
    return [sys.executable, "-m", "coursekit.cli", "--course", str(ROOT / "autograder"), "grade", ASSIGNMENT,
            str(submissions), "--out", str(out), "--db-url", db_url, "--shard", f"{shard}/{shards}",
            "--jobs", "1", "--timeout", TIMEOUT]


def run_shard(submissions: Path, out: Path, db_url: str, shard: int) -> None:
    done = subprocess.run(grade_command(submissions, out, db_url, shard), capture_output=True, text=True,
                          timeout=300, cwd=out.parent)
    assert done.returncode == 0, f"shard {shard}/{SHARDS} failed:\n{done.stdout}\n{done.stderr}"


def run_shards_at_once(submissions: Path, outs: list[Path], db_url: str) -> None:
    """Start one `coursekit grade` per shard, all at once, and wait for every one of them."""
    logs = [out.with_suffix(".log") for out in outs]
    processes = []
    try:
        for shard, (out, log) in enumerate(zip(outs, logs, strict=True)):
            with log.open("w") as f:
                processes.append(subprocess.Popen(grade_command(submissions, out, db_url, shard), stdout=f,
                                                  stderr=subprocess.STDOUT, cwd=out.parent))
        codes = [p.wait(timeout=300) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    failed = [f"shard {k}/{SHARDS}:\n{logs[k].read_text()}" for k, code in enumerate(codes) if code != 0]
    assert not failed, "\n\n".join(failed)


def gradebook_rows(db_url: str) -> list[tuple]:
    """Every grade of the assignment: (student, notebook, cell, auto, manual, and the rows' ids)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, "coursekit") as gb:
        return sorted((sub.student_id, nb.name, g.name, g.auto_score, g.manual_score, sub.id, nb.id, g.id)
                      for sub in gb.assignment_submissions(ASSIGNMENT)
                      for nb in sub.notebooks for g in nb.grades)


def scores_by_student(db_url: str) -> dict[str, dict[str, float]]:
    scores: dict[str, dict[str, float]] = {}
    for student, _, cell, auto, *_ in gradebook_rows(db_url):
        scores.setdefault(student, {})[cell] = auto
    return scores


@pytest.fixture(scope="module")
def demo_class(tmp_path_factory) -> Path:
    submissions = tmp_path_factory.mktemp("class") / "submissions"
    make_demo_class(ASSIGNMENT, submissions, COURSE)
    return submissions


@pytest.fixture(scope="module")
def sharded(postgres, demo_class, tmp_path_factory):
    """The demo class graded by three shards at once into one database; yields (db_url, outs)."""
    work = tmp_path_factory.mktemp("shards")
    db_url = postgres.create_database("sharded")
    # The database is empty: the shards, started together, also race to create nbgrader's tables
    # and the assignment, which an advisory lock in the grader serialises.
    outs = [work / f"shard{k}" for k in range(SHARDS)]
    run_shards_at_once(demo_class, outs, db_url)
    return db_url, outs


@pytest.fixture(scope="module")
def sequential(demo_class, tmp_path_factory):
    """The same class graded by one process into the default sqlite gradebook."""
    out = tmp_path_factory.mktemp("sequential") / "out"
    grade(ASSIGNMENT, demo_class, out, COURSE, timeout=float(TIMEOUT), jobs=1, log=lambda _: None)
    return f"sqlite:///{out / 'gradebook.db'}"


# -- tests ------------------------------------------------------------------------------------------

def test_every_student_has_exactly_one_submission_with_their_score(sharded, postgres):
    from nbgrader.api import Gradebook

    db_url, _ = sharded
    with Gradebook(db_url, "coursekit") as gb:
        assert [a.name for a in gb.assignments] == [ASSIGNMENT]
        submitted = sorted(s.student_id for s in gb.assignment_submissions(ASSIGNMENT))
        assert submitted == sorted(TOTALS), "a student is missing or graded twice"
        assert {s: gb.find_submission(ASSIGNMENT, s).score for s in TOTALS} == TOTALS
        assert {s.id for s in gb.students} == set(TOTALS)
    assert scores_by_student(db_url) == EXPECTED
    # Counted in SQL too: one row per student, one per student and notebook, one per graded cell.
    assert postgres.count(db_url, "submitted_assignment") == 6
    assert postgres.count(db_url, "submitted_notebook") == 6
    assert postgres.count(db_url, "grade") == 6 * 3


def test_the_shards_split_the_class_between_them(sharded):
    _, outs = sharded
    graded = [{line.split(",")[0] for line in (out / "grades.csv").read_text().splitlines()[1:]}
              for out in outs]
    assert sorted(s for shard in graded for s in shard) == sorted(TOTALS), "the shards overlap or miss one"


def test_sharded_postgres_grades_equal_a_sequential_sqlite_grading(sharded, sequential):
    db_url, _ = sharded
    assert scores_by_student(sequential) == EXPECTED
    assert scores_by_student(db_url) == scores_by_student(sequential)


def test_nbgrader_export_merges_every_shard(sharded, tmp_path):
    db_url, _ = sharded
    csv_path = tmp_path / "all.csv"
    done = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--db", db_url, "--to", str(csv_path)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT / "autograder", env=cli_env())
    assert done.returncode == 0, done.stderr
    rows = [line.split(",") for line in csv_path.read_text().splitlines()]
    header, rows = rows[0], rows[1:]
    student, score = header.index("student_id"), header.index("score")
    assert {r[student]: float(r[score]) for r in rows} == TOTALS
    assert len(rows) == len(TOTALS)


def test_rerunning_a_shard_changes_no_row(sharded, demo_class):
    db_url, outs = sharded
    before = gradebook_rows(db_url)
    run_shard(demo_class, outs[0], db_url, 0)
    assert gradebook_rows(db_url) == before  # same ids, so no row was deleted and inserted again
    assert scores_by_student(db_url) == EXPECTED


def test_one_shard_fills_an_empty_database_without_the_venv_on_path(postgres, demo_class, tmp_path):
    """As `.venv/bin/coursekit grade ... --db-url` runs from a shell where the venv is not activated."""
    one = tmp_path / "submissions"
    one.mkdir()
    shutil.copytree(demo_class / "eve", one / "eve")
    db_url = postgres.create_database("fresh")
    env = dict(os.environ)
    scripts = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != scripts)
    done = subprocess.run(grade_command(one, tmp_path / "out", db_url, 0, shards=1), capture_output=True,
                          text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert scores_by_student(db_url) == {"eve": EXPECTED["eve"]}
