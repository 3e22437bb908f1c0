"""Explorer latency: from a slider change to the new PNG in the explorer's image, for every explorer.

Each explorer's sliders are swept across their ranges (up to the maximum, down to the minimum and
back), one change at a time: setting the ipywidgets slider's ``value`` runs the observer, the
redraw and the PNG encoding synchronously, so the time of the assignment is the time to the new
``explorer.image.value``. The two trainers also run ticks of their *Play* control. Sliders that
only take effect at the next training step (learning rate, batch size, ...) draw nothing and are
listed, not timed; sliders hidden from the page are left out.

OpenBLAS starts its threads when numpy is imported, so the two settings run in two worker
processes, one with ``OPENBLAS_NUM_THREADS=1`` and one with the environment as it is; the parent
hands them the same chunks of work in turn, so both see the same load on this shared machine.
The explorers limit BLAS to one thread while they compute a redraw; the depth explorer is also
run without that limit, to show what it is for. Quoted: p50 and p95 over every update; medians
for the PNG encoders and the training speed.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import math
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cores, median, percentile, save, table  # noqa: E402

from coursekit.widgets.playground import PLAY_INTERVAL  # noqa: E402  (ms)

TARGET_MS = 50.0
EXPLORERS = ("PerceptronExplorer", "XORExplorer", "ChainRuleExplorer", "TwoLayerExplorer",
             "PlaygroundExplorer", "DepthExplorer")
PLAYERS = ("TwoLayerExplorer", "PlaygroundExplorer")
UNLIMITED = "DepthExplorer, no BLAS limit"
#: What the latency table lists: task -> label.
LATENCY = {
    **{name: f"{name} (sliders)" for name in EXPLORERS},
    UNLIMITED: "DepthExplorer (sliders), without the explorers' one-thread BLAS limit",
    **{f"tick:{name}": f"{name} (Play tick)" for name in PLAYERS},
}
SETTINGS = {"default": None, "1 thread": "1"}  # OPENBLAS_NUM_THREADS of each worker


# -- the worker: builds the explorers and times them ----------------------------------------------

class Worker:
    """Explorers and their planned changes, run a chunk at a time on the parent's request."""

    def __init__(self, updates: int, ticks: int, chunks: int):
        import coursekit.widgets as W
        import coursekit.widgets.base as base

        self.base = base
        self.chunks = chunks
        self.ticks = ticks
        self.stages: dict[str, float] = {}
        base._encode_png = self._timed(base._encode_png, "png")  # refresh looks the name up per call
        self.explorers, self.plans, self.idle = {}, {}, {}
        for name in EXPLORERS:
            explorer = self._instrument(getattr(W, name)())
            self.explorers[name] = explorer
            sliders, self.idle[name] = self._drawing_sliders(explorer)
            self.plans[name] = _sweep_plan(explorer, sliders, updates)
        self.explorers[UNLIMITED] = self._instrument(W.DepthExplorer())
        self.plans[UNLIMITED] = self.plans["DepthExplorer"]
        self.players = {name: self._instrument(getattr(W, name)()) for name in PLAYERS}
        self.trainer = W.PlaygroundExplorer()  # trained without redraws, for the steps per second
        self.trainer.refresh = lambda *_: None

    def _timed(self, function, stage: str):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.stages[stage] = self.stages.get(stage, 0.0) + time.perf_counter() - started
        return wrapper

    def _instrument(self, explorer):
        # Instance attributes shadow the methods that refresh() calls, so each stage is timed;
        # "partial" and "full" mark what the static background took.
        explorer.draw = self._timed(explorer.draw, "model")
        explorer._show_background = self._timed(explorer._show_background, "background")
        explorer._redraw_parts = self._timed(explorer._redraw_parts, "partial")
        explorer.fig.canvas.draw = self._timed(explorer.fig.canvas.draw, "full")
        return explorer

    def _drawing_sliders(self, explorer) -> tuple[list[str], list[str]]:
        """The visible sliders whose change draws a new picture, and those that draw nothing."""
        drawing, idle = [], []
        for name, slider in explorer.sliders.items():
            if slider.layout.display == "none":
                continue
            start, png = slider.value, explorer.png()
            values = _slider_values(slider)
            slider.value = values[-1] if values[0] == start else values[0]
            (drawing if explorer.png() is not png else idle).append(name)
            slider.value = start
        return drawing, idle

    def run(self, task: str, chunk: int):
        if task == "idle":
            return self.idle
        if task == "png":
            return self._encoders()
        if task == "steps":
            return self._steps()
        if task.startswith("tick:"):
            explorer = self.players[task[5:]]
            n = math.ceil(self.ticks / self.chunks)
            return self._updates(explorer, [("play", explorer.play.value + k + 1) for k in range(n)])
        plan = self.plans[task]
        size = math.ceil(len(plan) / self.chunks)
        changes = plan[chunk * size:(chunk + 1) * size]
        if task != UNLIMITED:
            return self._updates(self.explorers[task], changes)
        limit, self.base._blas_threads = self.base._blas_threads, None
        try:
            return self._updates(self.explorers[task], changes)
        finally:
            self.base._blas_threads = limit

    def _updates(self, explorer, changes) -> dict:
        times, stages, unchanged = [], [], 0
        for name, value in changes:
            control = explorer.play if name == "play" else explorer.sliders[name]
            png = explorer.png()
            self.stages = {}
            started = time.perf_counter()
            control.value = value
            elapsed = time.perf_counter() - started
            if explorer.png() is png:
                unchanged += 1  # a value the slider already had: nothing happened
                continue
            if bytes(explorer.image.value) != explorer.png():
                raise RuntimeError(f"{type(explorer).__name__}: {name} = {value!r} drew a picture "
                                   "that the image widget did not get")
            times.append(elapsed)
            stages.append(dict(self.stages, total=elapsed))
        return {"times": times, "stages": stages, "unchanged": unchanged}

    def _encoders(self) -> dict:
        """The PNG writer of base.py against PIL's encoder as base.py used it, on each last picture."""
        import numpy as np
        from PIL import Image

        encode = self.base._encode_png.__wrapped__  # without the stage timer
        out = {}
        for name in EXPLORERS:
            canvas = self.explorers[name].fig.canvas
            ours, pil = [], []
            for _ in range(5):  # interleaved
                started = time.perf_counter()
                new = encode(canvas)
                ours.append(time.perf_counter() - started)
                started = time.perf_counter()
                old = _pil_png(canvas)
                pil.append(time.perf_counter() - started)
            same = bool(np.array_equal(np.asarray(Image.open(io.BytesIO(new)).convert("RGB")),
                                       np.asarray(Image.open(io.BytesIO(old)).convert("RGB"))))
            out[name] = {"ours": ours, "pil": pil, "ours_kb": len(new) / 1024, "pil_kb": len(old) / 1024,
                         "same": same}
        return out

    def _steps(self) -> dict:
        n = 200
        started = time.perf_counter()
        self.trainer.step(n)
        return {"steps_per_s": n / (time.perf_counter() - started),
                "steps_per_frame": self.players["PlaygroundExplorer"].steps_per_frame}


def _pil_png(canvas) -> bytes:
    """The encoder base.py used before: PIL, RGBA converted to RGB, compress_level 1."""
    from PIL import Image

    rgba = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    rgba.convert("RGB").save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def _slider_values(slider) -> list:
    """About 21 values across a slider's range (every value of a short integer range)."""
    import ipywidgets as widgets
    import numpy as np

    if isinstance(slider, widgets.IntSlider):
        return list(range(slider.min, slider.max + 1, max(1, (slider.max - slider.min) // 20)))
    if isinstance(slider, widgets.FloatLogSlider):
        return [float(slider.base**e) for e in np.linspace(slider.min, slider.max, 21)]
    return [float(v) for v in np.round(np.linspace(slider.min, slider.max, 21), 6)]


def _sweep_plan(explorer, names: list[str], updates: int) -> list[tuple[str, float]]:
    """``(slider, value)`` changes: each slider in turn goes up to its top, down to its bottom and
    back to where it was, as often as needed for ``updates`` changes in all."""
    per_slider = math.ceil(updates / max(1, len(names)))
    plan = []
    for name in names:
        slider = explorer.sliders[name]
        values = _slider_values(slider)
        start = min(range(len(values)), key=lambda i: abs(values[i] - slider.value))
        trip = values[start + 1:] + values[-2::-1] + values[1:start + 1]
        moves = [(name, v) for v in trip]
        while len(moves) < per_slider:
            moves += moves[:len(trip)]
        plan += moves[:per_slider]
    return plan


def worker_main(updates: int, ticks: int, chunks: int) -> None:
    reply = sys.stdout
    sys.stdout = sys.stderr  # anything the libraries print stays off the reply channel
    worker = Worker(updates, ticks, chunks)
    reply.write(json.dumps({"ready": True}) + "\n")
    reply.flush()
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("quit"):
            break
        try:
            answer = worker.run(request["task"], request["chunk"])
        except Exception:  # sent to the parent, which prints it: the worker's stderr is not kept
            answer = {"error": traceback.format_exc()}
        reply.write(json.dumps(answer) + "\n")
        reply.flush()


# -- the parent: interleaves the workers and writes the tables ------------------------------------

class Remote:
    """A worker process with the given OPENBLAS_NUM_THREADS (None: the environment's)."""

    def __init__(self, threads: str | None, args):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
        if threads is not None:
            env["OPENBLAS_NUM_THREADS"] = threads
        env["MPLBACKEND"] = "Agg"
        command = [sys.executable, __file__, "--worker", "--updates", str(args.updates), "--ticks",
                   str(args.ticks), "--chunks", str(args.chunks)]
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True)
        self._read()

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a benchmark worker stopped; run it with --worker to see why")
        answer = json.loads(line)
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(f"a benchmark worker failed:\n{answer['error']}")
        return answer

    def ask(self, task: str, chunk: int = 0):
        self.process.stdin.write(json.dumps({"task": task, "chunk": chunk}) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.process.stdin.write(json.dumps({"quit": True}) + "\n")
        self.process.stdin.close()
        self.process.wait(timeout=60)


def ms(seconds: float) -> str:
    return f"{1e3 * seconds:.1f}"


def verdict(times: list[float]) -> str:
    return "met" if percentile(times, 95) <= TARGET_MS / 1e3 else "MISSED"


def latency_tables(results: dict) -> tuple[str, str]:
    rows, detail = [], []
    for task, label in LATENCY.items():
        runs = {setting: results[setting][task] for setting in SETTINGS}
        times = {s: [t for r in runs[s] for t in r["times"]] for s in SETTINGS}
        d, o = times["default"], times["1 thread"]
        rows.append([label, len(d), ms(median(d)), ms(percentile(d, 95)), ms(median(o)),
                     ms(percentile(o, 95)), f"{verdict(d)} / {verdict(o)}"])
        stages = [s for r in runs["1 thread"] for s in r["stages"]]
        full = [s["background"] for s in stages if "full" in s]
        partial = [s["background"] for s in stages if "partial" in s and "full" not in s]
        kept = [s["background"] for s in stages if "partial" not in s and "full" not in s]
        blit = [s["total"] - s["model"] - s["background"] - s["png"] for s in stages]
        detail.append([label, ms(median([s["model"] for s in stages])), ms(median(kept)) if kept else "-",
                       ms(median(blit)), ms(median([s["png"] for s in stages])),
                       f"{len(partial)}: {ms(median(partial))}" if partial else "0",
                       f"{len(full)}: {ms(median(full))}" if full else "0"])
    header = ["explorer", "updates", "p50 default", "p95 default", "p50 1 thread", "p95 1 thread",
              f"target p95 <= {TARGET_MS:.0f} ms (default / 1 thread)"]
    detail_header = ["explorer", "model, artists moved", "kept background", "animated artists", "PNG",
                     "parts redrawn: n, ms", "whole figure drawn: n, ms"]
    return table(header, rows), table(detail_header, detail)


def encoder_table(encoders: dict) -> str:
    differ = [name for name, r in encoders.items() if not r["same"]]
    if differ:
        raise RuntimeError(f"the direct PNG writer changed the pixels of {', '.join(differ)}")
    rows = []
    for name, r in encoders.items():
        ours, pil = median(r["ours"]), median(r["pil"])
        rows.append([name, ms(pil), ms(ours), f"{ours / pil:.2f}x", f"{r['pil_kb']:.0f}",
                     f"{r['ours_kb']:.0f}"])
    return table(["explorer", "PIL (ms)", "direct (ms)", "ratio", "PIL (KiB)", "direct (KiB)"], rows)


def training_table(results: dict) -> str:

    rows = []
    for setting in SETTINGS:
        steps = median([r["steps_per_s"] for r in results[setting]["steps"]])
        per_frame = results[setting]["steps"][0]["steps_per_frame"]
        tick = median([t for r in results[setting]["tick:PlaygroundExplorer"] for t in r["times"]])
        rows.append([setting, f"{steps:.0f}", per_frame, ms(tick), f"{per_frame / tick:.0f}",
                     f"{per_frame / max(tick, PLAY_INTERVAL / 1000):.0f}"])
    return table(["BLAS threads", "steps/s, no redraw", "steps per tick", "tick p50 (ms)",
                  "steps/s playing, ticks back to back",
                  f"steps/s playing, a tick every {PLAY_INTERVAL} ms"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run: 30 changes and 30 ticks each")
    parser.add_argument("--updates", type=int, default=120, help="slider changes per explorer")
    parser.add_argument("--ticks", type=int, default=120, help="Play ticks per trainer")
    parser.add_argument("--chunks", type=int, default=6, help="turns each worker takes per task")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.updates, args.ticks, args.chunks = 30, 30, 3
    if args.worker:
        worker_main(args.updates, args.ticks, args.chunks)
        return

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    remotes = {setting: Remote(threads, args) for setting, threads in SETTINGS.items()}
    tasks = [*LATENCY, "steps"]
    results = {setting: {task: [] for task in tasks} for setting in remotes}
    order = list(remotes)
    for chunk in range(args.chunks):
        for task in tasks:
            for setting in order:
                results[setting][task].append(remotes[setting].ask(task, chunk))
            order.reverse()  # who goes first alternates
    encoders = remotes["default"].ask("png")
    idle = remotes["default"].ask("idle")
    for remote in remotes.values():
        remote.close()
    seconds = time.perf_counter() - started

    latency, detail = latency_tables(results)
    idle_note = "; ".join(f"{name}: {', '.join(names)}" for name, names in idle.items() if names)
    text = [
        f"Explorer latency: slider change -> new PNG in explorer.image, in ms (Agg, dpi 80). "
        f"{cores()} shared with other work: load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after; {seconds:.0f} s in all. Two workers, OPENBLAS_NUM_THREADS "
        f"unset (default) and 1, given the same changes in turn.",
        "",
        latency,
        "",
        f"Not timed, they draw nothing (they apply from the next training step): {idle_note}.",
        "",
        "Where the time goes, 1-thread worker (median ms per update). The static background is a kept "
        "picture unless it changed; then only the parts that changed (an axis with new limits, a "
        "title, the network diagram) are drawn again over a kept picture of the rest, and the whole "
        "figure only when that picture is new. Columns 'parts' and 'whole figure': how many updates, "
        "and their background's median time.",
        "",
        detail,
        "",
        "PNG encoding of each explorer's last picture (ms, median of 5, interleaved): PIL's encoder "
        "(RGBA -> RGB copy, compress_level=1, adaptive row filters) against the direct writer of "
        "coursekit.widgets.base (no row filter, zlib level 1). Both PNGs decode to the same pixels "
        "(checked: a difference stops the run).",
        "",
        encoder_table(encoders),
        "",
        "Playground training speed (default: network 2-4-2-1, batch 10, 20 steps per tick): mini-batch "
        "steps per second without redrawing, and while playing (one redraw per tick; the Play control "
        f"ticks every {PLAY_INTERVAL} ms at most).",
        "",
        training_table(results),
    ]
    save("explorers", "\n".join(text), keep=not args.quick)


if __name__ == "__main__":
    main()
