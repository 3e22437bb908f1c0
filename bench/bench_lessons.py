"""Lesson execution time: every instructor notebook, solutions/*/*.ipynb, run top to bottom.

Each notebook runs as the tests run it (tests/notebooks.py): nbclient, a fresh python3 kernel,
the notebook's own folder as the working directory. The time is the whole run, kernel start-up
included; the notebooks take turns (in reverse order every other round) and each one's median
over the rounds is quoted, with the kernel's own time in the cells and the slowest cell.
Targets: every notebook within 30 s, all of them together within 2 minutes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, cores, median, save, table, use_test_helpers  # noqa: E402

use_test_helpers()
from notebooks import SOLUTIONS, errors, execute  # noqa: E402

EACH_TARGET_S, ALL_TARGET_S = 30.0, 120.0


def run(path: Path, timeout: int) -> dict:
    """Execute one notebook; its wall time, the cells' own times, the slowest cell and any errors."""
    started = time.perf_counter()
    # The kernel's stderr holds only its start-up chatter; cell output comes back as messages.
    nb = execute(path, allow_errors=True, timeout=timeout, quiet=True)
    wall = time.perf_counter() - started
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        timing = cell.metadata.get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            took = _when(timing["shell.execute_reply"]) - _when(timing["iopub.execute_input"])
            first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            cells.append((took.total_seconds(), index, first_line))
    slowest = max(cells, default=(0.0, -1, ""))
    failed = [f"cell {index}: {out.get('ename')}" for index, out in errors(nb)]
    return {"wall": wall, "cells": sum(s for s, _, _ in cells), "slowest": slowest, "errors": failed}


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of every notebook (the median is quoted)")
    parser.add_argument("--quick", action="store_true", help="one run of each notebook")
    parser.add_argument("--timeout", type=int, default=300, help="seconds a cell may take")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    paths = SOLUTIONS
    if not paths:
        raise SystemExit("no notebooks in solutions/*/")

    load_before = os.getloadavg()[0]
    results: dict[Path, list[dict]] = {path: [] for path in paths}
    for round_ in range(runs):
        for path in paths if round_ % 2 == 0 else paths[::-1]:
            results[path].append(run(path, args.timeout))

    rows, total, any_failed = [], 0.0, False
    for path, outcomes in results.items():
        wall = median([o["wall"] for o in outcomes])
        total += wall
        slow_s, slow_index, slow_line = max((o["slowest"] for o in outcomes), key=lambda s: s[0])
        failed = sorted({e for o in outcomes for e in o["errors"]})
        rows.append([
            str(path.relative_to(ROOT)),
            f"{wall:.1f}",
            f"{min(o['wall'] for o in outcomes):.1f} - {max(o['wall'] for o in outcomes):.1f}",
            f"{median([o['cells'] for o in outcomes]):.1f}",
            f"{slow_s:.1f} (cell {slow_index}: `{slow_line[:40].replace('|', '/')}`)",
            "; ".join(failed) or "none",
            # a notebook with errors may be fast for the wrong reason
            "met" if wall <= EACH_TARGET_S and not failed else "MISSED",
        ])
        any_failed = any_failed or bool(failed)
    rows.append(["all together", f"{total:.1f}", "", "", "", "",
                 "met" if total <= ALL_TARGET_S and not any_failed else "MISSED"])
    header = ["notebook", "median (s)", "range (s)", "in cells (s)", "slowest cell (s)", "errors",
              f"target <= {EACH_TARGET_S:.0f} s each, {ALL_TARGET_S:.0f} s all"]
    text = (f"Lesson notebooks executed with nbclient (fresh kernel each, start-up included), median of "
            f"{runs} run{'s' if runs > 1 else ''}, on {cores()} shared with other work "
            f"(load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)\n\n"
            + table(header, rows))
    save("lessons", text, keep=not args.quick)


if __name__ == "__main__":
    main()
