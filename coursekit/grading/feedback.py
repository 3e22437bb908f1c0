"""Per-student feedback: one HTML page per notebook, with the score and the reason for every lost point.

A failed trial shows its name, what differed (shape, dtype, the first differing index, the largest
relative error, or the wrong gradient's name) and expected against got for that trial only. The
hidden tests' code and the other trials' reference values never appear.
"""

from __future__ import annotations

import html
from pathlib import Path

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; line-height: 1.45; }
table { border-collapse: collapse; } td, th { padding: .25rem .7rem; border-bottom: 1px solid #ddd; }
.full { color: #1a7f37; } .lost { color: #b42318; } code, pre { background: #f5f5f5; }
pre { padding: .4rem; white-space: pre-wrap; } .flag { color: #9a6700; }
"""

#: Failed trials shown per question: enough to act on, not a dump of the hidden tests.
MAX_FAILURES = 3


def _e(text) -> str:
    return html.escape(str(text))


def write_feedback(result, assignment: str, questions, out: Path, question_key) -> list[Path]:
    """Write the feedback pages of one student; return their paths."""
    folder = out / "feedback" / result.student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.html"):
        old.unlink()
    notebooks = sorted({q.notebook for q in questions})
    paths = []
    for notebook in notebooks:
        mine = [q for q in questions if q.notebook == notebook]
        path = folder / f"{notebook}.html"
        path.write_text(_page(result, assignment, notebook, mine, questions, question_key), encoding="utf-8")
        paths.append(path)
    return paths


def _page(result, assignment, notebook, mine, questions, question_key) -> str:
    keys = [question_key(q, questions) for q in mine]
    score = sum(result.scores[k] for k in keys)
    total = sum(q.max_score for q in mine)
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(assignment)}: {_e(notebook)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{_e(assignment)} / {_e(notebook)}.ipynb</h1>",
        f"<p>Student: <b>{_e(result.student)}</b>. Score: <b>{score:g} / {total:g}</b></p>",
    ]
    broken = [p for p in result.problems if p.startswith(f"{notebook}.ipynb:")]
    if broken:
        why = _e(broken[0].split(": ", 1)[1])
        parts.append(f"<p class='lost'><strong>Not graded, score 0:</strong> {why}."
                     "</p><p>Hand in the notebook as saved by Jupyter (File &rarr; Save), under its "
                     "original name.</p>")
    parts.append("<table><tr><th>question</th><th>score</th><th>what to fix</th></tr>")
    for q, key in zip(mine, keys, strict=True):
        got = result.scores[key]
        css = "full" if got == q.max_score else "lost"
        failures = result.failures.get(key, [])
        detail = "".join(_failure(f) for f in failures[:MAX_FAILURES])
        if len(failures) > MAX_FAILURES:
            detail += f"<p>... and {len(failures) - MAX_FAILURES} more failing cases.</p>"
        flags = [f for f in result.flags if f.startswith(f"{q.grade_id}: ")]
        detail += "".join(f"<p class='flag'>{_e(f.split(': ', 1)[1])}</p>" for f in flags)
        parts.append(f"<tr><td><code>{_e(q.grade_id)}</code></td><td class='{css}'>{got:g} / {q.max_score:g}"
                     f"</td><td>{detail or ('right' if got == q.max_score else '')}</td></tr>")
    parts.append("</table>")
    others = [f for f in result.flags if not any(f.startswith(f"{q.grade_id}: ") for q in mine)]
    notes = [n for n in result.notes if "ipynb" not in n or n.startswith(f"{notebook}.ipynb")] + others
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    parts.append("</body></html>")
    return "".join(parts)


def _failure(failure: dict) -> str:
    text = f"<p><b>{_e(failure['trial'])}</b>: {_e(failure['message'])}</p>"
    if failure.get("expected") or failure.get("got"):
        expected, got = _e(failure.get("expected", "")), _e(failure.get("got", ""))
        text += f"<pre>expected: {expected}\ngot:      {got}</pre>"
    return text
