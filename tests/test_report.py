"""The instructor's class report: numbers, plots, failures, flags and escaping, on a class built by hand."""

import base64
import io
import statistics
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from coursekit.grading import report
from coursekit.grading.intake import ABSENT, LMS_LATE_NOTE
from coursekit.grading.pipeline import GradingRun, Question, StudentResult
from coursekit.grading.report import write_report

POINTS = {"q_predict": 2.0, "q_update": 3.0, "q_train": 5.0}
SCRIPT_ID = "eve<script>alert(1)</script>"
SCRIPT_NOTE = "not on the roster </td><script>alert('roster')</script>"
# student -> (scores per question, seconds, problems, notes, flags)
CLASS = {
    "ada": ({"q_predict": 2, "q_update": 3, "q_train": 5}, 4.0, [], [], []),
    "ben": ({"q_predict": 2, "q_update": 1.5, "q_train": 0}, 12.5, [],
            ["code cell 4 ran past the time limit and was stopped", LMS_LATE_NOTE], []),
    "cy": ({"q_predict": 0, "q_update": 0, "q_train": 0}, 0.3,
           ["perceptron.ipynb: not a valid notebook: the file is not JSON (<bad> & worse)"], [], []),
    "dee": ({"q_predict": 1, "q_update": 3, "q_train": 5}, 7.4, [], ["late by 2 days 3 hours"],
            ["q_train: delegates to the library (np.linalg.lstsq): write the computation yourself"]),
    SCRIPT_ID: ({"q_predict": 2, "q_update": 3, "q_train": 0}, 30.0, [],
                ["code cell 2: the kernel died (it exited, crashed or ran out of memory)", SCRIPT_NOTE,
                 "notebook was renamed to mine.ipynb; graded as perceptron.ipynb"],
                ["the locked cell q_update was edited"]),
}
SKIPPED = ["notes.txt: not a folder or a .ipynb file", "<img src=x onerror=alert(1)>: not a student id"]


def make_run(tmp_path, students=CLASS, skipped=SKIPPED, points=POINTS, notebook="perceptron"):
    questions = [Question(notebook, qid, pts) for qid, pts in points.items()]
    results = [
        StudentResult(name, {k: float(v) for k, v in scores.items()}, sum(points.values()), list(problems),
                      list(notes), list(flags), seconds=seconds)
        for name, (scores, seconds, problems, notes, flags) in students.items()
    ]
    return GradingRun("01-perceptron", questions, results, list(skipped), tmp_path)


class Page(HTMLParser):
    """Collects each section's tables (rows of cell texts), list items and images; checks nesting."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.section = "header"
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.items: dict[str, list[str]] = {}
        self.images: list[str] = []
        self.text: list[str] = []
        self.script_tags = 0
        self._cell: list[str] | None = None
        self._item: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.script_tags += 1
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "h2":
            self.section = attrs["id"]
        if tag == "table":
            self.tables.setdefault(self.section, []).append([])
        if tag == "tr":
            self.tables[self.section][-1].append([])
        if tag in ("td", "th"):
            self._cell = []
        if tag == "li":
            self._item = []
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1:]}>"
        self.open.pop()
        if tag in ("td", "th"):
            self.tables[self.section][-1][-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "li":
            self.items.setdefault(self.section, []).append("".join(self._item).strip())
            self._item = None

    def handle_data(self, data):
        self.text.append(data)
        for part in (self._cell, self._item):
            if part is not None:
                part.append(data)

    def table(self, section, n=0):
        """Rows (without the header row) of the n-th table of a section, as dicts by column name."""
        header, *rows = self.tables[section][n]
        return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The report of the class above, written once for the tests that only read it."""
    folder = tmp_path_factory.mktemp("report")
    return render(folder, make_run(folder))


def render(tmp_path, run, **kwargs):
    path = write_report(run, tmp_path / "report.html", **kwargs)
    text = path.read_text(encoding="utf-8")
    page = Page(text)
    assert text.startswith("<!DOCTYPE html>") and page.open == [], "every element is closed"
    return text, page


def test_header_has_the_class_summary(page):
    _, page = page
    summary = dict(page.tables["header"][0])
    totals = [sum(scores.values()) for scores, *_ in CLASS.values()]  # 10, 3.5, 0, 9, 5
    assert summary["students"] == "5"
    assert summary["mean score"] == f"{statistics.mean(totals):.2f} / 10" == "5.50 / 10"
    assert summary["median score"] == f"{statistics.median(totals):.2f} / 10" == "5.00 / 10"
    assert summary["max score"] == "10"
    assert summary["failed to run"] == "3" and summary["flags"] == "5"
    assert summary["handed in nothing"] == "0"
    assert summary["generated"][:2] == "20"
    assert "01-perceptron" in "".join(page.text)


def test_each_question_has_its_mean_and_pass_rate(page):
    _, page = page
    rows = {row["question"]: row for row in page.table("questions")}
    assert list(rows) == list(POINTS)
    for qid, points in POINTS.items():
        got = [scores[qid] for scores, *_ in CLASS.values()]
        full = sum(score == points for score in got)
        assert rows[qid]["points"] == f"{points:g}"
        assert rows[qid]["mean score"] == f"{statistics.mean(got):.2f}"
        assert rows[qid]["pass rate"] == f"{100 * full / len(got):.1f}%"
        assert rows[qid]["full points"] == str(full)
    # By hand: q_predict 7/5 = 1.4 with 3 of 5 full; q_train 10/5 = 2 with 2 of 5 full.
    assert (rows["q_predict"]["mean score"], rows["q_predict"]["pass rate"]) == ("1.40", "60.0%")
    assert (rows["q_train"]["mean score"], rows["q_train"]["pass rate"]) == ("2.00", "40.0%")
    assert rows["q_update"]["mean, % of points"] == "70.0%"  # 2.1 of 3


def test_plots_are_embedded_pngs(page):
    text, page = page
    assert len(page.images) == 2, "the histogram and the per-question bars"
    for src in page.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        image = Image.open(io.BytesIO(base64.b64decode(src[len(prefix):], validate=True)))
        assert image.format == "PNG" and image.width > 200 and image.height > 100
        image.verify()
    assert "http://" not in text and "https://" not in text, "the page needs nothing from outside"


def test_slowest_submissions_are_listed_slowest_first(tmp_path):
    _, page = render(tmp_path, make_run(tmp_path), slowest=3)
    rows = page.table("slowest")
    assert [(row["student"], row["seconds"]) for row in rows] == [
        (SCRIPT_ID, "30.0"), ("ben", "12.5"), ("dee", "7.4")]
    assert rows[1]["score"] == "3.5 / 10"
    _, page = render(tmp_path, make_run(tmp_path), slowest=0)
    assert "slowest" not in page.tables


def test_students_who_handed_in_nothing_are_not_counted_as_failed_to_run(tmp_path):
    absent = ({"q_predict": 0, "q_update": 0, "q_train": 0}, 0.0,
              [f"perceptron.ipynb: {ABSENT}"], ["not on the roster"], [])
    _, page = render(tmp_path, make_run(tmp_path, students={**CLASS, "zed": absent}))
    summary = dict(page.tables["header"][0])
    assert summary["handed in nothing"] == "1" and summary["failed to run"] == "3"
    assert "zed" not in {row["student"] for row in page.table("failed")}


def test_failed_submissions_appear_with_their_reasons(page):
    _, page = page
    rows = {row["student"]: row for row in page.table("failed")}
    assert set(rows) == {"ben", "cy", SCRIPT_ID}
    assert "not JSON (<bad> & worse)" in rows["cy"]["reason"]
    assert "ran past the time limit" in rows["ben"]["reason"]
    assert "the kernel died" in rows[SCRIPT_ID]["reason"]
    assert "renamed" not in rows[SCRIPT_ID]["reason"], "a renamed notebook ran fine"
    assert rows["cy"]["score"] == "0"


def test_flags_late_and_roster_notes_appear(page):
    _, page = page
    got = {(row["student"], row["kind"], row["what"]) for row in page.table("flagged")}
    assert got == {
        ("dee", "delegation", CLASS["dee"][4][0]),
        ("dee", "late", "late by 2 days 3 hours"),
        ("ben", "late", LMS_LATE_NOTE),
        (SCRIPT_ID, "tampering", "the locked cell q_update was edited"),
        (SCRIPT_ID, "roster", SCRIPT_NOTE),
    }


def test_skipped_entries_are_listed(page):
    _, page = page
    assert page.items["skipped"] == SKIPPED


def test_student_strings_are_escaped(page):
    text, page = page
    assert page.script_tags == 0 and "<script>" not in text and "<img src=x" not in text
    assert "eve&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;/td&gt;&lt;script&gt;" in text
    assert SCRIPT_ID in {row["student"] for row in page.table("failed")}, "shown, as text"


def test_an_empty_class_gives_a_valid_page(tmp_path):
    run = make_run(tmp_path, students={}, skipped=[])
    text, page = render(tmp_path, run)
    summary = dict(page.tables["header"][0])
    assert summary["students"] == "0" and summary["max score"] == "10"
    assert summary["mean score"] == summary["median score"] == "\N{EM DASH}"
    assert [row["pass rate"] for row in page.table("questions")] == ["\N{EM DASH}"] * 3
    assert page.images == []
    assert "No submissions were graded" in text and "Nothing was flagged" in text
    # No questions at all either.
    text, page = render(tmp_path, GradingRun("empty", [], [], [], tmp_path))
    assert dict(page.tables["header"][0])["max score"] == "0"
    assert "no graded questions" in text


def test_questions_of_several_notebooks_are_keyed_by_notebook(tmp_path):
    run = make_run(tmp_path, students={})
    run.questions.append(Question("extra", "q_more", 1.0))
    run.results.append(StudentResult(
        "fay", {"perceptron:q_predict": 2.0, "perceptron:q_update": 0.0, "perceptron:q_train": 5.0,
                "extra:q_more": 1.0}, 11.0))
    _, page = render(tmp_path, run)
    rows = {row["question"]: row["pass rate"] for row in page.table("questions")}
    assert rows == {"perceptron:q_predict": "100.0%", "perceptron:q_update": "0.0%",
                    "perceptron:q_train": "100.0%", "extra:q_more": "100.0%"}
    assert dict(page.tables["header"][0])["mean score"] == "8.00 / 11"


def test_the_report_is_replaced_atomically(tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("old report")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(report.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(make_run(tmp_path), path)
    assert path.read_text() == "old report", "a failed write leaves the old page whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"], "no temporary file is left"
    monkeypatch.undo()
    assert write_report(make_run(tmp_path), path) == path
    assert path.read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_no_pyplot_figures_are_left_behind(tmp_path):
    pyplot = sys.modules.get("matplotlib.pyplot")
    before = pyplot.get_fignums() if pyplot else []
    write_report(make_run(tmp_path), tmp_path / "report.html")
    after = pyplot.get_fignums() if pyplot else []
    assert after == before


@pytest.mark.parametrize("bad", [-1, 2.5, "3", True])
def test_a_bad_slowest_is_refused(tmp_path, bad):
    with pytest.raises(ValueError, match="slowest"):
        write_report(make_run(tmp_path), Path(tmp_path) / "report.html", slowest=bad)


def test_the_histogram_has_one_bin_per_whole_score(tmp_path):
    scores = [10, 9, 9, 0, 4]
    fig = report._histogram(np.array(scores, dtype=float), 10.0)
    heights = [int(p.get_height()) for p in fig.axes[0].patches]
    assert heights == [scores.count(k) for k in range(11)], "9 and 10 are not lumped together"
