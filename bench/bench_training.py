"""One training step of coursekit.MLP against PyTorch on the CPU, and against the matmul bound.

A step is forward, loss with its gradient, backward and a plain SGD update ``p -= lr * grad``.
The contenders get the same data, the same initial weights, the same dtype and the same number
of threads (``torch.set_num_threads``, and threadpoolctl for numpy's BLAS and OpenMP pools):

- coursekit: ``loss, grads = model.loss(X, y); model.step(grads, lr)``
- torch: ``nn.Linear`` layers and the activation, ``F.cross_entropy``, ``loss.backward()``,
  ``loss.item()`` (coursekit returns the loss as a float too) and, under ``no_grad``,
  ``p -= lr * p.grad; p.grad = None``
- bound: the step's matrix products alone, in numpy with preallocated outputs: ``Z_l = A @ W_l.T``
  for every layer, then ``dW_l = dZ_l.T @ A_{l-1}`` for every layer and ``dA_{l-1} = dZ_l @ W_l``
  for every layer but the first (the input needs no gradient).
- torch matmuls: the same products with ``torch.mm(..., out=)``. numpy's wheel multiplies with
  OpenBLAS and torch's with MKL; this column shows how much of a difference is the BLAS.

Run with a numpy built on MKL (``make bench-mkl`` makes one in .venv-mkl), the frameworks also meet
on the same BLAS; the results are then saved as training-mkl rather than training.

Timing interleaves the contenders in rotating order, one block of steps each per round, and
quotes the median over rounds of the time per step; a ratio is the median over rounds of the
ratio within the round, which cancels most of the drift when other work shares the machine.
Each block starts after a rest (``SETTLE``, when more than one thread is used) and one untimed
step, so that the previous contender's idle threads, still spinning, do not share the cores with it.

Memory of a step:
- ``tracemalloc``: coursekit's peak of numpy allocations during a step, above what was live before,
  plus the arrays the network keeps from step to step for its layer outputs (allocated by the
  warm-up steps, so not seen as growth).
- ``RSS``: for both frameworks the same way, in a fresh subprocess each: build the model, run two
  warm-up steps, give freed memory back (``malloc_trim``), reset the kernel's high-water mark
  (``/proc/self/clear_refs``), run three steps and report peak RSS (``VmHWM``) minus the resident
  size before them, plus (for coursekit) the arrays it keeps between steps, as above. glibc's
  adaptive mmap threshold is pinned (``MALLOC_MMAP_THRESHOLD_``) so that large arrays are mapped
  and unmapped rather than kept in the heap, which would hide their reuse.
  The gradients of the previous step are dropped before the next in both.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bar_plot, cores, median, save, table  # noqa: E402

import coursekit  # noqa: E402

LR = 1e-3


@dataclass(frozen=True)
class Case:
    name: str
    sizes: tuple[int, ...]
    batch: int
    activation: str
    # Targets in float64: (at most this times torch's time, at most this times the bound).
    vs_torch: float
    vs_bound: float | None


CASES = {
    "playground": Case("playground", (2, 8, 8, 2), 200, "tanh", 0.3, None),
    "mnist": Case("mnist", (784, 256, 128, 10), 256, "relu", 0.9, 1.4),
    "wide": Case("wide", (1024, 1024, 1024, 10), 1024, "relu", 1.0, 1.2),
}
DTYPES = ("float64", "float32")


def data(case: Case, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((case.batch, case.sizes[0])).astype(dtype)
    y = rng.integers(0, case.sizes[-1], case.batch)
    return X, y


def coursekit_model(case: Case, dtype: str) -> coursekit.MLP:
    return coursekit.MLP(list(case.sizes), activation=case.activation, loss="softmax_cross_entropy",
                         seed=0, dtype=dtype)


def coursekit_step(case: Case, dtype: str):
    model = coursekit_model(case, dtype)
    X, y = data(case, dtype)

    def step():
        loss, grads = model.loss(X, y)
        model.step(grads, LR)
        return loss

    step.model = model
    return step


def kept_bytes(step) -> int:
    """Bytes of the arrays a coursekit network keeps from one step to the next (its layer outputs)."""
    model = getattr(step, "model", None)
    if model is None:
        return 0
    return model.scratch_nbytes


def torch_step(case: Case, dtype: str):
    import torch
    from torch import nn
    from torch.nn import functional as F

    params = coursekit_model(case, dtype).params  # the same initial weights
    layers = []
    for l in range(1, len(case.sizes)):
        linear = nn.Linear(case.sizes[l - 1], case.sizes[l], dtype=getattr(torch, dtype))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(params[f"W{l}"]))
            linear.bias.copy_(torch.from_numpy(params[f"b{l}"]))
        layers.append(linear)
        if l < len(case.sizes) - 1:
            layers.append(nn.Tanh() if case.activation == "tanh" else nn.ReLU())
    net = nn.Sequential(*layers)
    weights = list(net.parameters())
    X, y = data(case, dtype)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        loss = F.cross_entropy(net(Xt), yt)
        loss.backward()
        with torch.no_grad():
            for p in weights:
                p.add_(p.grad, alpha=-LR)  # in place, without a temporary, as coursekit's update
                p.grad = None
        return loss.item()

    return step


def bound_arrays(case: Case, dtype: str) -> tuple[list, ...]:
    """Random operands and preallocated outputs of a step's matrix products, as numpy arrays."""
    rng = np.random.default_rng(1)
    sizes, m = case.sizes, case.batch
    A = [rng.standard_normal((m, n)).astype(dtype) for n in sizes]  # A[0] is X; A[l] holds Z_l
    dZ = [None] + [rng.standard_normal((m, n)).astype(dtype) for n in sizes[1:]]
    W = [None] + [rng.standard_normal((sizes[l], sizes[l - 1])).astype(dtype) for l in range(1, len(sizes))]
    dW = [None] + [np.empty_like(w) for w in W[1:]]
    # dA[l]: gradient of layer l + 1's input; none for the first layer's, the input X
    dA = [None] + [np.empty((m, n), dtype) for n in sizes[1:-1]]
    return A, dZ, W, dW, dA


def products(mm, A, dZ, W, dW, dA):
    """A step's products with ``mm(a, b, out=)``: every forward product, then every weight
    gradient and every input gradient but the first layer's (the input needs none)."""
    L = len(A) - 1

    def step():
        for l in range(1, L + 1):
            mm(A[l - 1], W[l].T, out=A[l])
        for l in range(L, 0, -1):
            mm(dZ[l].T, A[l - 1], out=dW[l])
            if l > 1:
                mm(dZ[l], W[l], out=dA[l - 1])

    return step


def bound_step(case: Case, dtype: str):
    """The forward and backward matrix products of a step, in numpy, into preallocated arrays."""
    return products(np.matmul, *bound_arrays(case, dtype))


def torch_bound_step(case: Case, dtype: str):
    """The same products in torch (its own BLAS), on the same numbers, into preallocated tensors."""
    import torch

    as_tensors = lambda arrays: [None if a is None else torch.from_numpy(a) for a in arrays]
    return products(torch.mm, *map(as_tensors, bound_arrays(case, dtype)))


class Agreement(NamedTuple):
    """Whether coursekit and torch did the same work, and how the table shows it."""

    same: bool
    shown: str


def same_work(case: Case, dtype: str) -> Agreement:
    """Whether coursekit and torch give the same losses over their first three steps."""
    ours, theirs = coursekit_step(case, dtype), torch_step(case, dtype)
    a, b = [ours() for _ in range(3)], [theirs() for _ in range(3)]
    same = bool(np.allclose(a, b, rtol=1e-9 if dtype == "float64" else 1e-4))
    return Agreement(same, "yes" if same else f"NO: {a} vs {b}")


CONTENDERS = {"coursekit": coursekit_step, "torch": torch_step, "bound": bound_step,
              "torch bound": torch_bound_step}


def set_threads(n: int) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(n)  # the BLAS, and OpenMP for a BLAS threaded with it (MKL built with gomp)


#: Seconds to wait before each block of steps. An idle BLAS or OpenMP pool keeps its threads
#: spinning for a while after its last call (OpenBLAS's for about 2**28 cycles, some 0.1 s):
#: on 2 cores, the next contender's threads would share them with that spinning.
SETTLE = 0.2


def interleaved(steps: dict, rounds: int, budget: float, settle: float = SETTLE) -> dict[str, list[float]]:
    """Seconds per step of each contender in every round: one block of steps each per round.

    The order rotates from round to round; a block lasts about ``budget / rounds / len(steps)``.
    Each block starts after ``settle`` seconds of rest and one untimed step, so that it runs as
    the contender would alone: the previous one's threads asleep, its own pool awake.
    """
    block = {}
    for name, step in steps.items():  # warm up, then size the blocks
        step()
        started = time.perf_counter()
        step()
        one = time.perf_counter() - started
        block[name] = max(1, int(budget / rounds / len(steps) / max(one, 1e-7)))
    per_step = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            step, n = steps[name], block[name]
            time.sleep(settle)
            step()
            started = time.perf_counter()
            for _ in range(n):
                step()
            per_step[name].append((time.perf_counter() - started) / n)
    return per_step


def ratio(per_step: dict[str, list[float]], a: str, b: str) -> float:
    """Median over rounds of ``a``'s time over ``b``'s in the same round (robust to load drifts)."""
    return median([x / y for x, y in zip(per_step[a], per_step[b], strict=True)])


def tracemalloc_peak(case: Case, dtype: str) -> int:
    """Peak bytes of numpy allocations of one coursekit step above what was live before it, plus
    the arrays the network keeps between steps (made before, but part of every step's memory)."""
    step = coursekit_step(case, dtype)
    step()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - before + kept_bytes(step)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(framework: str, case: Case, dtype: str, threads: int) -> None:
    """In a fresh process: peak RSS growth over three steps after two warm-up steps, plus the
    arrays a coursekit network keeps between steps (KiB)."""
    set_threads(threads)
    step = CONTENDERS[framework](case, dtype)
    for _ in range(2):
        step()
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    for _ in range(3):
        step()
    print(json.dumps({"kib": _status_kib("VmHWM") - before + kept_bytes(step) // 1024}))


def rss_peak(framework: str, case: Case, dtype: str, threads: int) -> int | None:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(64 * 1024)}
    run = subprocess.run(
        [sys.executable, __file__, "--memory-child", framework, case.name, dtype, str(threads)],
        env=env, capture_output=True, text=True,
    )
    if run.returncode != 0:
        print(run.stderr, file=sys.stderr)
        return None
    return 1024 * json.loads(run.stdout.strip().splitlines()[-1])["kib"]


def mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:.2f}"


def fmt_time(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} us" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="*", default=[1, os.cpu_count() or 1],
                        help="thread counts to compare at (default: 1 and every core)")
    parser.add_argument("--cases", nargs="*", choices=list(CASES), default=list(CASES))
    parser.add_argument("--dtypes", nargs="*", choices=DTYPES, default=list(DTYPES))
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds per measurement")
    parser.add_argument("--budget", type=float, default=3.0, help="seconds of timing per case and dtype")
    parser.add_argument("--quick", action="store_true",
                        help="a short run: fewer rounds, no memory, printed and not saved")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory columns")
    parser.add_argument("--settle", type=float, default=SETTLE,
                        help="seconds of rest before each block of steps (0: back to back)")
    parser.add_argument("--memory-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        framework, case, dtype, threads = args.memory_child
        memory_child(framework, CASES[case], dtype, int(threads))
        return
    if args.quick:
        args.rounds, args.budget, args.no_memory = 5, 0.8, True
    threads = sorted(set(args.threads))

    # Whether both do the same work does not depend on the threads: checked once.
    same = {(c, d): same_work(CASES[c], d) for c in args.cases for d in args.dtypes}
    rows, verdicts = [], []
    plotted: dict[str, list[float]] = {"coursekit/torch": [], "coursekit/bound": []}
    labels = []
    for n_threads in threads:
        set_threads(n_threads)
        for case in (CASES[c] for c in args.cases):
            for dtype in args.dtypes:
                steps = {name: make(case, dtype) for name, make in CONTENDERS.items()}
                # On one thread no pool is left spinning between blocks: no rest is needed.
                settle = args.settle if n_threads > 1 else 0.0
                per_step = interleaved(steps, args.rounds, args.budget, settle)
                vs_torch = ratio(per_step, "coursekit", "torch")
                vs_bound = ratio(per_step, "coursekit", "bound")
                rows.append([n_threads, describe(case), dtype,
                             *(fmt_time(median(per_step[name])) for name in CONTENDERS),
                             f"{vs_torch:.2f}x", f"{vs_bound:.2f}x",
                             f"{ratio(per_step, 'torch', 'torch bound'):.2f}x", same[case.name, dtype].shown])
                if dtype == "float64":
                    verdicts.append(verdict(n_threads, case, vs_torch, vs_bound, same[case.name, dtype].same))
                    labels.append(f"{list(case.sizes)}, {n_threads} thr")
                    plotted["coursekit/torch"].append(vs_torch)
                    plotted["coursekit/bound"].append(vs_bound)
    header = ["threads", "network, batch", "dtype", "coursekit", "torch", "numpy matmuls (bound)",
              "torch matmuls", "coursekit/torch", "coursekit/bound", "torch/torch matmuls", "same losses"]
    import torch

    text = (
        "Training step (forward, loss, backward, SGD update): median wall time per step over "
        f"{args.rounds} interleaved rounds, and the median of the per-round ratios; "
        f"{cores()}, numpy {np.__version__} ({numpy_blas()}), "
        f"torch {torch.__version__} (MKL)\n\n"
        + table(header, rows)
        + "\n\nTargets (float64):\n\n" + "\n".join(verdicts)
    )
    if not args.no_memory:
        text += "\n\n" + memory_table(args.cases, args.dtypes, threads[0])
    name = "training-mkl" if numpy_blas().startswith("mkl") else "training"
    bar_plot(name, labels, plotted, "time ratio (float64)", target=1.0, keep=not args.quick)
    save(name, text, keep=not args.quick)


def numpy_blas() -> str:
    """The BLAS numpy was built with, as its build configuration names it: "scipy-openblas"
    for the wheels on PyPI, "mkl-dynamic-lp64-gomp" for the one ``make bench`` builds."""
    return np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]


def memory_table(cases: list[str], dtypes: list[str], n_threads: int) -> str:
    rows = []
    for case in (CASES[c] for c in cases):
        for dtype in dtypes:
            ours = rss_peak("coursekit", case, dtype, n_threads)
            theirs = rss_peak("torch", case, dtype, n_threads)
            rows.append([describe(case), dtype, mib(tracemalloc_peak(case, dtype)), mib(ours), mib(theirs),
                         "n/a" if not (ours and theirs) else f"{ours / theirs:.2f}x"])
    header = ["network, batch", "dtype", "coursekit (tracemalloc)", "coursekit (RSS)", "torch (RSS)",
              "coursekit/torch (RSS)"]
    return (f"Peak memory of a step in MiB, above the live model and data ({n_threads} thread(s); "
            "RSS: a fresh process per framework, see the script's docstring)\n\n" + table(header, rows))


def describe(case: Case) -> str:
    return f"{list(case.sizes)} m={case.batch} {case.activation}"


def verdict(n_threads: int, case: Case, vs_torch: float, vs_bound: float, same_losses: bool) -> str:
    """The target lines of one case; a time counts only if coursekit and torch did the same work."""
    met = lambda ok: "met" if ok and same_losses else "MISSED"
    lines = [f"- {case.name}, float64, {n_threads} thread(s): target <= {case.vs_torch}x torch: "
             f"{vs_torch:.3f}x {met(vs_torch <= case.vs_torch)}"]
    if case.vs_bound is not None:
        lines.append(f"; target <= {case.vs_bound}x bound: {vs_bound:.3f}x {met(vs_bound <= case.vs_bound)}")
    if not same_losses:
        lines.append(" (the losses differ from torch's, so the times do not compare)")
    return "".join(lines)


if __name__ == "__main__":
    main()
