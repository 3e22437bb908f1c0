"""The instructor's class report: one self-contained HTML page per graded assignment.

The page shows the class's scores (a summary and a histogram), how each question went (mean score
and pass rate, as a table and a bar chart), the slowest submissions, every submission that failed
to run, everything flagged (tampering, delegation to the library, late or unknown students) and
the entries of the submissions folder that were skipped. Plots are PNGs embedded as data URIs,
so the file can be mailed or uploaded on its own. Every string that comes from a submission is
escaped.
"""

from __future__ import annotations

import base64
import html
import io
import numbers
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from coursekit.grading.intake import ABSENT, LMS_LATE_NOTE

if TYPE_CHECKING:  # the pipeline imports this module to write its report
    from coursekit.grading.pipeline import GradingRun, StudentResult

__all__ = ["FailedRun", "Flag", "QuestionStats", "failed_runs", "flagged", "question_stats", "render_report",
           "write_report"]

#: A note that says the student's code did not run to the end (written by the runner and kernel).
_RUN_FAILURE = re.compile(r"time limit|kernel (died|was stopped|did not start)", re.IGNORECASE)
#: Flags that say a graded cell or its metadata was changed.
_TAMPERING = re.compile(r"\bcell\b.*\b(edited|deleted|removed|added|changed)\b|\bmetadata\b", re.IGNORECASE)
_DPI = 80
_SCORE_COLOR, _PASS_COLOR = "#2b6cb0", "#dd6b20"

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
td, th { padding: .25rem .7rem; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.reasons { margin: 0; padding-left: 1.1rem; } .empty { color: #666; font-style: italic; }
.summary td:first-child { color: #555; } nav a { margin-right: 1rem; } img { max-width: 100%; }
.kind { font-weight: 600; color: #9a6700; } .problem { color: #b42318; }
"""


@dataclass(frozen=True)
class QuestionStats:
    """How one question went across the class.

    Attributes
    ----------
    key : str
        The question's column in ``StudentResult.scores`` (see ``question_key``).
    max_score : float
    mean : float
        Mean score over the students (nan for an empty class).
    pass_rate : float
        Share of students with full points, in [0, 1] (nan for an empty class).
    passed : int
        Number of students with full points.
    """

    key: str
    max_score: float
    mean: float
    pass_rate: float
    passed: int


@dataclass(frozen=True)
class FailedRun:
    """A submission whose notebooks could not be graded or did not run to the end."""

    student: str
    score: float
    reasons: list[str]


@dataclass(frozen=True)
class Flag:
    """One thing the instructor should look at: ``kind`` is tampering, delegation, late, roster or flag."""

    student: str
    kind: str
    message: str


def question_stats(run: GradingRun) -> list[QuestionStats]:
    """Mean score and pass rate of every question, in the order of ``run.questions``."""
    from coursekit.grading.pipeline import question_key

    stats = []
    for q in run.questions:
        key = question_key(q, run.questions)
        scores = np.array([r.scores.get(key, 0.0) for r in run.results], dtype=float)
        # A score within rounding of the maximum counts as full points.
        full = int(np.sum(scores >= q.max_score - 1e-9))
        mean = float(scores.mean()) if scores.size else float("nan")
        rate = full / scores.size if scores.size else float("nan")
        stats.append(QuestionStats(key, q.max_score, mean, rate, full))
    return stats


def absent(run: GradingRun) -> list[str]:
    """The students on the roster who handed in nothing."""
    return [r.student for r in run.results if r.problems and all(p.endswith(ABSENT) for p in r.problems)]


def failed_runs(run: GradingRun) -> list[FailedRun]:
    """Submissions that failed to run: their problems, and notes of a time-out or a dead kernel.
    Students who handed in nothing are counted apart (:func:`absent`)."""
    failed = []
    nothing = set(absent(run))
    for r in run.results:
        if r.student in nothing:
            continue
        reasons = list(r.problems) + [n for n in r.notes if _RUN_FAILURE.search(n)]
        if reasons:
            failed.append(FailedRun(r.student, r.score, reasons))
    return failed


def flagged(run: GradingRun) -> list[Flag]:
    """Every flag of every student, and the notes that say a hand-in was late or from an unknown id."""
    found = []
    for r in run.results:
        found.extend(Flag(r.student, _flag_kind(f), f) for f in r.flags)
        for note in r.notes:
            if note.lower().startswith("late by") or note == LMS_LATE_NOTE:
                found.append(Flag(r.student, "late", note))
            elif "not on the roster" in note.lower():
                found.append(Flag(r.student, "roster", note))
    return found


def _flag_kind(flag: str) -> str:
    if "delegates to the library" in flag:
        return "delegation"
    return "tampering" if _TAMPERING.search(flag) else "flag"


def write_report(run: GradingRun, path: Path, slowest: int = 10) -> Path:
    """Write the class report of ``run`` as one self-contained HTML file.

    Parameters
    ----------
    run : GradingRun
        The outcome of :func:`coursekit.grading.pipeline.grade` (or one built by hand).
    path : Path
        The HTML file to write; it is replaced atomically, so a reader never sees half a page.
    slowest : int
        How many of the slowest submissions to list.

    Returns
    -------
    Path
        ``path``.
    """
    if isinstance(slowest, bool) or not isinstance(slowest, numbers.Integral) or slowest < 0:
        raise ValueError(f"slowest must be a non-negative int, got {slowest!r}")
    slowest = int(slowest)
    path = Path(path)
    _write_atomically(path, render_report(run, slowest))
    return path


def render_report(run: GradingRun, slowest: int = 10) -> str:
    """The HTML text of the class report (see :func:`write_report`)."""
    stats = question_stats(run)
    failed = failed_runs(run)
    flags = flagged(run)
    body = [
        _header(run, len(failed), len(flags), len(absent(run))),
        "<nav><a href='#distribution'>distribution</a><a href='#questions'>questions</a>"
        "<a href='#slowest'>slowest</a><a href='#failed'>failed to run</a><a href='#flagged'>flagged</a>"
        "<a href='#skipped'>skipped</a></nav>",
        _distribution(run),
        _questions(stats, bool(run.results)),
        _slowest(run.results, slowest),
        _failed(failed),
        _flagged(flags),
        _skipped(run.skipped),
    ]
    title = f"Class report: {_e(run.assignment)}"
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


# -- sections ---------------------------------------------------------------------------------------


def _header(run: GradingRun, n_failed: int, n_flags: int, n_absent: int) -> str:
    scores = np.array([r.score for r in run.results], dtype=float)
    top = _max_score(run)
    mean = f"{scores.mean():.2f} / {top:g}" if scores.size else "&mdash;"
    median = f"{np.median(scores):.2f} / {top:g}" if scores.size else "&mdash;"
    generated = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    rows = [
        ("students", f"{len(run.results)}"),
        ("mean score", mean),
        ("median score", median),
        ("max score", f"{top:g}"),
        ("questions", f"{len(run.questions)}"),
        ("handed in nothing", f"{n_absent}"),
        ("failed to run", f"{n_failed}"),
        ("flags", f"{n_flags}"),
        ("results reused from an earlier run", f"{len(run.reused)}"),
        ("generated", _e(generated)),
    ]
    table = "".join(f"<tr><td>{name}</td><td>{value}</td></tr>" for name, value in rows)
    return f"<h1>Class report: {_e(run.assignment)}</h1>\n<table class='summary'>{table}</table>"


def _distribution(run: GradingRun) -> str:
    head = "<h2 id='distribution'>Score distribution</h2>"
    if not run.results:
        return head + "<p class='empty'>No submissions were graded.</p>"
    scores = np.array([r.score for r in run.results], dtype=float)
    return head + _img(_histogram(scores, _max_score(run)), "histogram of the total scores")


def _questions(stats: list[QuestionStats], any_results: bool) -> str:
    head = "<h2 id='questions'>Questions</h2>"
    if not stats:
        return head + "<p class='empty'>The assignment has no graded questions.</p>"
    rows = "".join(
        f"<tr><td><code>{_e(s.key)}</code></td><td class='num'>{s.max_score:g}</td>"
        f"<td class='num'>{_num(s.mean, '.2f')}</td><td class='num'>{_pct(_share(s.mean, s.max_score))}</td>"
        f"<td class='num'>{_pct(s.pass_rate)}</td><td class='num'>{s.passed}</td></tr>"
        for s in stats
    )
    table = ("<table><tr><th>question</th><th class='num'>points</th><th class='num'>mean score</th>"
             "<th class='num'>mean, % of points</th><th class='num'>pass rate</th>"
             f"<th class='num'>full points</th></tr>{rows}</table>")
    note = "<p>Pass rate: the share of students with full points on the question.</p>"
    chart = _img(_question_bars(stats), "mean score and pass rate per question") if any_results else ""
    return head + note + table + chart


def _slowest(results: list[StudentResult], n: int) -> str:
    top = sorted(results, key=lambda r: r.seconds, reverse=True)[:n]
    head = f"<h2 id='slowest'>Slowest submissions ({len(top)})</h2>"
    if not top:
        return head + "<p class='empty'>None.</p>"
    rows = "".join(
        f"<tr><td>{_e(r.student)}</td><td class='num'>{r.seconds:.1f}</td>"
        f"<td class='num'>{r.score:g} / {r.max_score:g}</td><td>{_e(r.status)}</td></tr>" for r in top
    )
    return head + ("<table><tr><th>student</th><th class='num'>seconds</th><th class='num'>score</th>"
                   f"<th>status</th></tr>{rows}</table>")


def _failed(failed: list[FailedRun]) -> str:
    head = f"<h2 id='failed'>Failed to run ({len(failed)})</h2>"
    if not failed:
        return head + "<p class='empty'>Every submission ran.</p>"
    rows = "".join(
        f"<tr><td>{_e(f.student)}</td><td class='num'>{f.score:g}</td><td><ul class='reasons'>"
        + "".join(f"<li class='problem'>{_e(reason)}</li>" for reason in f.reasons)
        + "</ul></td></tr>"
        for f in failed
    )
    return head + f"<table><tr><th>student</th><th class='num'>score</th><th>reason</th></tr>{rows}</table>"


def _flagged(flags: list[Flag]) -> str:
    head = f"<h2 id='flagged'>Flagged ({len(flags)})</h2>"
    if not flags:
        return head + "<p class='empty'>Nothing was flagged.</p>"
    rows = "".join(
        f"<tr><td>{_e(f.student)}</td><td class='kind'>{_e(f.kind)}</td><td>{_e(f.message)}</td></tr>"
        for f in flags
    )
    return head + f"<table><tr><th>student</th><th>kind</th><th>what</th></tr>{rows}</table>"


def _skipped(skipped: list[str]) -> str:
    head = f"<h2 id='skipped'>Skipped entries ({len(skipped)})</h2>"
    if not skipped:
        return head + "<p class='empty'>No entry of the submissions folder was skipped.</p>"
    return head + "<ul>" + "".join(f"<li>{_e(s)}</li>" for s in skipped) + "</ul>"


# -- plots ------------------------------------------------------------------------------------------


def _histogram(scores: np.ndarray, top: float) -> Figure:
    """Histogram of the total scores over 0..top.

    When ``top`` is a small whole number each score 0, 1, ..., top gets its own bin, centred on it
    (equal-width bins from 0 to top would lump the two highest scores together).
    """
    top = top if top > 0 else 1.0
    if float(top).is_integer() and top <= 25:
        edges = np.arange(int(top) + 2) - 0.5
    else:
        edges = np.linspace(0.0, top, 21)
    fig = _figure(6.4, 3.2)
    ax = fig.add_subplot()
    ax.hist(np.clip(scores, 0.0, top), bins=edges, color=_SCORE_COLOR, edgecolor="white")
    ax.axvline(float(scores.mean()), color=_PASS_COLOR, linestyle="--", label=f"mean {scores.mean():.2f}")
    ax.set_xlim(edges[0], edges[-1])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("total score")
    ax.set_ylabel("students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return fig


def _question_bars(stats: list[QuestionStats]) -> Figure:
    """Horizontal bars per question: mean score as a % of its points, and the pass rate."""
    n = len(stats)
    fig = _figure(6.4, 1.2 + 0.45 * n)
    ax = fig.add_subplot()
    ys = np.arange(n)
    means = [100 * np.nan_to_num(_share(s.mean, s.max_score)) for s in stats]
    rates = [100 * s.pass_rate for s in stats]
    ax.barh(ys - 0.2, means, height=0.4, color=_SCORE_COLOR, label="mean score, % of points")
    ax.barh(ys + 0.2, rates, height=0.4, color=_PASS_COLOR, label="pass rate, %")
    ax.set_yticks(ys, [s.key for s in stats])
    ax.invert_yaxis()  # first question on top, as in the table
    ax.set_xlim(0, 100)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    return fig


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _img(fig: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<p><img alt="{_e(alt)}" src="data:image/png;base64,{data}"></p>'


# -- helpers ----------------------------------------------------------------------------------------


def _max_score(run: GradingRun) -> float:
    if run.questions:
        return float(sum(q.max_score for q in run.questions))
    return float(max((r.max_score for r in run.results), default=0.0))


def _share(x: float, whole: float) -> float:
    return x / whole if whole else float("nan")


def _e(text) -> str:
    return html.escape(str(text))


def _num(x: float, spec: str) -> str:
    return "&mdash;" if np.isnan(x) else format(x, spec)


def _pct(x: float) -> str:
    return "&mdash;" if np.isnan(x) else f"{100 * x:.1f}%"


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file next to ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
