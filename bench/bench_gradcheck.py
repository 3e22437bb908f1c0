"""Gradient checking: `coursekit.gradcheck.gradcheck` against a full central-difference check.

The full check differences every entry of every parameter (two loss evaluations each, through
``coursekit.gradcheck.numerical_gradient``) and judges each entry with the rule gradcheck
documents: ``|numeric - analytic| / max(|numeric| + |analytic|, atol / tol) <= tol``, with
tol = 1e-5 and atol = 1e-8 * max(1, |loss|); an entry that disagrees is re-differenced at a ten
times smaller step, as gradcheck does, so that a ReLU kink cannot fail it. Loss evaluations are
counted by wrapping the loss function that both checkers receive.

Five sections:

1. cost by network size, from about 100 to about 235k parameters (library MLPs): time and loss
   evaluations of both checks, measured side by side; the full check is timed up to
   ``--full-max`` parameters and extrapolated above from the measured time of one evaluation;
2. the 235k network under different BLAS thread counts and loss functions;
3. the planted-bug corpus (tests/planted_bugs.py) at its own size and at two larger sizes: the
   verdicts of both checks on every bug and on the correct gradients, per seed, with detection
   and false-alarm rates;
4. false alarms on correct library MLP gradients, up to the 235k network;
5. where sampling is weaker than the full check: a small error confined to part of an array.

A seed varies the parameters, the data and gradcheck's own sampling (``gradcheck(seed=...)``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bar_plot, cores, median, save, table, use_test_helpers  # noqa: E402

use_test_helpers()
import planted_bugs  # noqa: E402

from coursekit import MLP  # noqa: E402
from coursekit.gradcheck import gradcheck, numerical_gradient  # noqa: E402
from coursekit.losses import LOSSES  # noqa: E402

H, TOL = 1e-5, 1e-5  # gradcheck's float64 defaults

SIZES = [[6, 10, 4], [16, 32, 10], [64, 64, 10], [196, 128, 10], [784, 128, 10], [784, 256, 128, 10]]
BIG = SIZES[-1]


# -- counting and the full check -------------------------------------------------------------------


class Counted:
    """A loss function that counts its calls."""

    def __init__(self, f: Callable[[], float]):
        self.f = f
        self.n = 0

    def __call__(self) -> float:
        self.n += 1
        return self.f()


def _entry_difference(f: Callable[[], float], p: np.ndarray, index: tuple, h: float) -> float:
    old = p[index]
    try:
        p[index] = old + h
        plus = float(f())
        p[index] = old - h
        minus = float(f())
    finally:
        p[index] = old
    return (plus - minus) / (2 * h)


def full_check(f: Callable[[], float], params: dict, grads: dict) -> set[str]:
    """Names of the parameters whose gradient the exhaustive check rejects.

    Written out here rather than taken from ``gradcheck(..., full_limit=...)``: the reference the
    benchmark judges gradcheck by must not share gradcheck's code, only its documented rule.
    """
    atol = 1e-8 * max(1.0, abs(float(f())))
    floor = atol / TOL
    failed = set()
    for name, p in params.items():
        g = grads.get(name)
        if g is None or np.shape(g) != p.shape or not np.all(np.isfinite(g)):
            failed.add(name)  # nothing to compare entry by entry
            continue
        g = np.asarray(g, dtype=np.float64)
        numeric = numerical_gradient(lambda _p: f(), p, h=H)
        err = np.abs(numeric - g) / np.maximum(np.abs(numeric) + np.abs(g), floor)
        for index in map(tuple, np.argwhere(err > TOL)):
            small = _entry_difference(f, p, index, H / 10)
            err[index] = min(err[index], abs(small - g[index]) / max(abs(small) + abs(g[index]), floor))
        if err.max(initial=0.0) > TOL:
            failed.add(name)
    return failed


def n_params(sizes) -> int:
    return sum(sizes[l] * sizes[l - 1] + sizes[l] for l in range(1, len(sizes)))


def label(sizes) -> str:
    return "[" + ", ".join(map(str, sizes)) + "]"


@contextlib.contextmanager
def blas_threads(n: int):
    """Limit BLAS to ``n`` threads inside the block (0: leave it alone)."""
    if n <= 0:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"):
        yield


def mlp_problem(sizes, seed: int, batch: int, activation: str = "relu"):
    net = MLP(sizes, activation=activation, loss="softmax_cross_entropy", seed=seed)
    rng = np.random.default_rng(seed + 10_000)
    X, y = rng.standard_normal((batch, sizes[0])), rng.integers(0, sizes[-1], batch)
    return net, X, y


def loss_only(net: MLP, X, y) -> Callable[[], float]:
    """The loss without the backward pass that ``net.loss`` also runs."""
    loss = LOSSES[net.loss_name]
    return lambda: loss(net.forward_logits(X)[0], y, net.reduction)[0]


# -- 1. cost by size ---------------------------------------------------------------------------------


def time_evals(f: Callable[[], float], budget: float = 0.05) -> float:
    """Seconds per call of ``f``, from as many calls as fit in about ``budget`` seconds."""
    started, n = time.perf_counter(), 0
    while True:
        f()
        n += 1
        elapsed = time.perf_counter() - started
        if elapsed >= budget and n >= 3:
            return elapsed / n


def cost_table(args) -> tuple[str, float]:
    rows, big_seconds, big_ok = [], float("nan"), False
    plotted: dict[str, list[float]] = {"gradcheck": [], "full central differences": []}
    for sizes in SIZES:
        net, X, y = mlp_problem(sizes, 0, args.batch)
        N = net.n_params()
        f = lambda net=net, X=X, y=y: net.loss(X, y)[0]
        _, grads = net.loss(X, y)
        measure_full = N <= args.full_max
        gc_t, full_t, eval_t = [], [], []
        gc_evals = full_evals = 0
        gc_verdicts, full_verdicts = set(), set()
        # Interleaved: gradcheck, the full check, then the time of one evaluation, repeat.
        for rep in range(args.repeats):
            counted = Counted(f)
            started = time.perf_counter()
            report = gradcheck(counted, net.params, grads, seed=rep)
            gc_t.append(time.perf_counter() - started)
            gc_evals = counted.n
            gc_verdicts.add("ok" if report.ok else "FAIL")
            if measure_full:
                counted = Counted(f)
                started = time.perf_counter()
                failed = full_check(counted, net.params, grads)
                full_t.append(time.perf_counter() - started)
                full_evals = counted.n
                full_verdicts.add("FAIL" if failed else "ok")
            eval_t.append(time_evals(f))
        per_eval = median(eval_t)
        predicted_full = (2 * N + 1) * per_eval  # f0, then two per entry
        if measure_full:
            full_s, how = median(full_t), "measured"
        else:
            full_evals, full_s, how = 2 * N + 1, predicted_full, "extrapolated"
        gc_s = median(gc_t)
        plotted["gradcheck"].append(gc_s)
        plotted["full central differences"].append(full_s)
        if sizes == BIG:
            big_seconds, big_ok = gc_s, gc_verdicts == {"ok"}  # its gradients are right
        rows.append([
            label(sizes), f"{N:,}", gc_evals, f"{gc_s:.3f}", f"{full_evals:,}", f"{full_s:.2f} ({how})",
            f"{predicted_full:.2f}", f"{per_eval * 1e3:.3f}", f"{full_s / gc_s:,.0f}x",
            f"{'/'.join(sorted(gc_verdicts))} / {'/'.join(sorted(full_verdicts)) or '-'}",
        ])
    header = ["network", "params", "gradcheck evals", "gradcheck s (median)", "full evals", "full s",
              "full s from per-eval time", "ms per eval", "speed-up", "verdict gc / full"]
    target = "met" if big_seconds <= 1.0 and big_ok else "MISSED"
    bar_plot("gradcheck", [f"{n_params(s):,}" for s in SIZES], plotted, "seconds (log)", log=True, target=1.0,
             keep=not args.quick)
    text = (
        f"### 1. Cost by size (ReLU, softmax cross-entropy, batch {args.batch}, f = net.loss(X, y)[0], "
        f"BLAS threads {args.blas_threads or 'default'}, medians of {args.repeats} interleaved runs)\n\n"
        + table(header, rows)
        + f"\n\nThe full check is timed up to {args.full_max:,} parameters; above that its time is "
        f"(2 N + 1) x the median time of one loss evaluation (column 'from per-eval time', shown for "
        f"every row so that the extrapolation can be compared with the measured rows).\n\n"
        f"target: gradcheck <= 1 s on the {n_params(BIG):,}-parameter network, saying its right gradients "
        f"are right: {big_seconds:.3f} s, {target}"
    )
    return text, big_seconds


# -- 2. the big network: BLAS threads and the loss function --------------------------------------------


def threads_table(args) -> str:
    net, X, y = mlp_problem(BIG, 0, args.batch)
    _, grads = net.loss(X, y)
    full_loss = lambda: net.loss(X, y)[0]
    cores = os.cpu_count() or 1
    contenders = [
        ("f = net.loss(X, y)[0], BLAS 1 thread", full_loss, 1),
        (f"f = net.loss(X, y)[0], BLAS {cores} threads", full_loss, cores),
        ("f = forward and loss only, BLAS 1 thread", loss_only(net, X, y), 1),
    ]
    times: dict[str, list[float]] = {name: [] for name, _, _ in contenders}
    per_eval: dict[str, list[float]] = {name: [] for name, _, _ in contenders}
    evals = {}
    for rep in range(args.repeats):
        for name, f, threads in contenders:
            with blas_threads(threads):
                counted = Counted(f)
                started = time.perf_counter()
                report = gradcheck(counted, net.params, grads, seed=rep)
                times[name].append(time.perf_counter() - started)
                per_eval[name].append(time_evals(f, budget=0.1))
            evals[name] = counted.n
            if not report.ok:
                raise RuntimeError(f"gradcheck rejected a correct gradient:\n{report}")
    base = median(times[contenders[0][0]])
    rows = []
    for name, _, _ in contenders:
        t = times[name]
        rows.append([name, evals[name], f"{median(t):.3f}", f"{min(t):.3f}-{max(t):.3f}",
                     f"{median(per_eval[name]) * 1e3:.2f}", f"{median(t) / base:.2f}x",
                     "met" if median(t) <= 1.0 else "MISSED"])
    header = ["setting", "evals", "gradcheck s (median)", "range", "ms per eval", "vs first row",
              "target <= 1 s"]
    return (
        f"### 2. The {n_params(BIG):,}-parameter network {label(BIG)}, batch {args.batch} "
        f"({args.repeats} interleaved runs, load average {os.getloadavg()[0]:.1f} at the end)\n\n"
        + table(header, rows)
        + "\n\nEach evaluation pushes an 8-row batch through the layers: products this small are slower "
        "with a second BLAS thread, much slower while other processes keep the cores busy (the range "
        "column). The benchmark runs on one BLAS thread elsewhere; set OPENBLAS_NUM_THREADS=1 to do the "
        "same in a notebook. Half of each evaluation of net.loss is the backward pass, which a "
        "gradient check throws away (third row)."
    )


# -- 3. the planted-bug corpus ------------------------------------------------------------------------


@dataclass
class Scale:
    """The corpus network with hidden layers of ``n`` units, ``k`` classes and a batch of ``n``."""

    n: int
    k: int
    seeds: int
    full_seeds: int

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.n, self.n, self.n, self.k)

    @property
    def own(self) -> bool:
        return self.sizes == planted_bugs.SIZES and self.n == planted_bugs.BATCH

    def problem(self, seed: int):
        # The corpus's recipe (He-scaled weights, biases around 0.5). The batch equals the width,
        # so that the wrong-axis bias sum keeps its shape, as in the corpus.
        return planted_bugs.random_problem(seed, self.sizes, self.n)


def corpus_loss(params, X, y, activation: str) -> Callable[[], float]:
    """The corpus network's loss alone (its functions also run the backward pass)."""
    g = planted_bugs.ACTIVATIONS[activation][0]
    rows, m = np.arange(len(y)), len(y)
    W1, b1, W2, b2, W3, b3 = (params[name] for name in planted_bugs.PARAMS)  # perturbed in place

    def f() -> float:
        Z = g(g(X @ W1.T + b1) @ W2.T + b2) @ W3.T + b3
        Z -= Z.max(axis=1, keepdims=True)
        logp = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
        weights = sum(W.ravel() @ W.ravel() for W in (W1, W2, W3))
        return float(-logp[rows, y].sum() / m + planted_bugs.LAM / 2 * weights)

    return f


@dataclass
class Tally:
    runs: int = 0
    shows: int = 0  # seeds where the planted bug changes the gradients at all
    gc_wrong: int = 0
    gc_wrong_shown: int = 0
    gc_exact: int = 0  # gradcheck fails exactly the parameters the bug corrupts
    sampled_wrong: int = 0
    full_runs: int = 0
    full_wrong: int = 0
    agree: int = 0  # same failed set as the full check
    sampled_agree: int = 0
    gc_evals: int = 0
    full_evals: int = 0


def corpus_cases() -> list[tuple[str, str, planted_bugs.Bug | None]]:
    correct = [("correct", a, None) for a in ("sigmoid", "tanh", "relu")]
    return correct + [(bug.name, bug.activation, bug) for bug in planted_bugs.BUGS]


def run_corpus(scale: Scale, sampled: bool) -> dict[tuple[str, str], Tally]:
    tallies = {}
    for name, activation, bug in corpus_cases():
        tally = tallies[name, activation] = Tally()
        for seed in range(scale.seeds):
            params, X, y = scale.problem(seed)
            _, right = planted_bugs.network(params, X, y, activation=activation)
            grads = right if bug is None else bug.loss_and_grads(params, X, y)[1]
            f = corpus_loss(params, X, y, activation)
            if seed == 0 and abs(f() - planted_bugs.network(params, X, y, activation=activation)[0]) > 1e-12:
                raise RuntimeError("corpus_loss differs from the corpus network's loss")
            tally.runs += 1
            shows = bug is None or any(
                right[p].shape != grads[p].shape or not np.allclose(right[p], grads[p], rtol=1e-6, atol=1e-9)
                for p in planted_bugs.PARAMS
            )
            tally.shows += shows
            counted = Counted(f)
            report = gradcheck(counted, params, grads, seed=seed)
            tally.gc_evals += counted.n
            failed = set(report.failed)
            tally.gc_wrong += not report.ok
            tally.gc_wrong_shown += shows and not report.ok
            tally.gc_exact += failed == (set() if bug is None else set(bug.wrong))
            if sampled:
                sampled_failed = set(gradcheck(f, params, grads, seed=seed, full_limit=0).failed)
                tally.sampled_wrong += bool(sampled_failed)
            if seed < scale.full_seeds:
                counted = Counted(f)
                full_failed = full_check(counted, params, grads)
                tally.full_evals += counted.n
                tally.full_runs += 1
                tally.full_wrong += bool(full_failed)
                tally.agree += failed == full_failed
                if sampled:
                    tally.sampled_agree += sampled_failed == full_failed
    return tallies


def pct(k: int, n: int) -> str:
    return f"{k}/{n} ({100 * k / n:.0f}%)" if n else "-"


def corpus_table(scale: Scale, sampled: bool) -> tuple[str, bool]:
    started = time.perf_counter()
    tallies = run_corpus(scale, sampled)
    seconds = time.perf_counter() - started
    rows = []
    for (name, activation), t in tallies.items():
        row = [name, activation, "-" if name == "correct" else pct(t.shows, t.runs),
               pct(t.full_wrong, t.full_runs),
               pct(t.gc_wrong, t.runs), pct(t.gc_exact, t.runs), pct(t.agree, t.full_runs)]
        if sampled:
            row[5:5] = [pct(t.sampled_wrong, t.runs)]
            row.append(pct(t.sampled_agree, t.full_runs))
        rows.append(row)
    header = ["case", "activation", "bug shows", "full says wrong", "gradcheck says wrong",
              "gradcheck names exactly the corrupted params", "same verdicts as full"]
    if sampled:
        header[5:5] = ["sampled gradcheck says wrong"]
        header.append("sampled: same verdicts")
    bugs = [t for (name, _), t in tallies.items() if name != "correct"]
    correct = [t for (name, _), t in tallies.items() if name == "correct"]
    total = lambda ts, field: sum(getattr(t, field) for t in ts)
    all_t = list(tallies.values())
    agree, full_runs = total(all_t, "agree"), total(all_t, "full_runs")
    summary = [
        f"detection rate (gradcheck says wrong on a planted bug): "
        f"{pct(total(bugs, 'gc_wrong'), total(bugs, 'runs'))}"
        f"; full check: {pct(total(bugs, 'full_wrong'), total(bugs, 'full_runs'))}"
        f"; among the runs where the bug changes the gradients at all: "
        f"{pct(total(bugs, 'gc_wrong_shown'), total(bugs, 'shows'))}",
        f"false-alarm rate (gradcheck says wrong on a correct gradient): "
        f"{pct(total(correct, 'gc_wrong'), total(correct, 'runs'))}"
        f"; full check: {pct(total(correct, 'full_wrong'), total(correct, 'full_runs'))}",
    ]
    if sampled:
        summary.append(
            f"sampled gradcheck (full_limit=0): detection "
            f"{pct(total(bugs, 'sampled_wrong'), total(bugs, 'runs'))}, "
            f"false alarms {pct(total(correct, 'sampled_wrong'), total(correct, 'runs'))}, same verdicts as "
            f"full {pct(total(all_t, 'sampled_agree'), full_runs)}"
        )
    gc_evals = total(all_t, "gc_evals") / max(1, total(all_t, "runs"))
    full_evals = total(all_t, "full_evals") / max(1, full_runs)
    met = agree == full_runs
    summary += [
        f"loss evaluations per check: gradcheck {gc_evals:.0f}, full {full_evals:.0f}",
        f"target: same verdicts (the same failed parameters) as the full check, on every bug and every seed "
        f"the full check ran on: "
        f"{pct(agree, full_runs)}, {'met' if met else 'MISSED'}",
    ]
    where = (
        "the corpus at its own size: every array has at most 64 entries, so gradcheck's default "
        "differences every entry; the sampled column forces directions + sampled entries on every array"
        if scale.own else
        "the corpus network scaled up: gradcheck's default samples the weight matrices"
    )
    title = (
        f"### 3. Planted bugs, corpus network {label(scale.sizes)}, batch {scale.n}, "
        f"{n_params(scale.sizes):,} params ({where}); {scale.seeds} seeds, full check on the first "
        f"{scale.full_seeds}; {seconds:.0f} s"
    )
    return title + "\n\n" + table(header, rows) + "\n\n" + "\n".join(f"- {s}" for s in summary), met


# -- 4. false alarms on library MLPs ----------------------------------------------------------------------


def mlp_false_alarms(args) -> str:
    cases = [([6, 10, 4], a, args.seeds, max(3, args.seeds // 5)) for a in ("sigmoid", "tanh", "relu")]
    cases += [([64, 64, 10], "relu", args.seeds, 0), ([6, 16, 16, 16, 16, 2], "sigmoid", args.seeds, 0),
              (BIG, "relu", args.big_seeds, 0)]
    rows = []
    for sizes, activation, seeds, full_seeds in cases:
        alarms = full_alarms = evals = 0
        seconds = 0.0
        for seed in range(seeds):
            net, X, y = mlp_problem(sizes, seed, args.batch, activation)
            _, grads = net.loss(X, y)
            f = lambda net=net, X=X, y=y: net.loss(X, y)[0]
            counted = Counted(f)
            started = time.perf_counter()
            alarms += not gradcheck(counted, net.params, grads, seed=seed).ok
            seconds += time.perf_counter() - started
            evals += counted.n
            if seed < full_seeds:
                full_alarms += bool(full_check(f, net.params, grads))
        rows.append([label(sizes), activation, f"{n_params(sizes):,}", seeds, pct(alarms, seeds),
                     pct(full_alarms, full_seeds), f"{evals / seeds:.0f}", f"{seconds / seeds:.3f}"])
    header = ["network", "activation", "params", "seeds", "gradcheck false alarms", "full check false alarms",
              "gradcheck evals", "gradcheck s"]
    return (
        f"### 4. Correct gradients of library MLPs (softmax cross-entropy, batch {args.batch}): "
        f"false alarms\n\n"
        + table(header, rows)
    )


# -- 5. sensitivity to a small, local error --------------------------------------------------------------


def sensitivity_table(args) -> str:
    sizes, seeds, full_seeds = [16, 32, 10], max(5, args.seeds // 5), 3
    rows = []
    for kind in ("one entry", "one row (a unit)"):
        for eps in (1e-1, 1e-2, 1e-3, 1e-4):
            said = full_said = 0
            for seed in range(seeds):
                net, X, y = mlp_problem(sizes, seed, args.batch, "tanh")
                f = lambda net=net, X=X, y=y: net.loss(X, y)[0]
                _, grads = net.loss(X, y)
                bad = {name: g.copy() for name, g in grads.items()}
                if kind == "one entry":  # an entry with a typical (median) gradient
                    flat = np.argsort(np.abs(grads["W1"]).ravel())[grads["W1"].size // 2]
                    bad["W1"].ravel()[flat] *= 1 + eps
                else:
                    bad["W1"][seed % sizes[1]] *= 1 + eps
                said += not gradcheck(f, net.params, bad, seed=seed).ok
                if seed < full_seeds:
                    full_said += bool(full_check(f, net.params, bad))
            rows.append([kind, f"x (1 + {eps:.0e})", pct(said, seeds), pct(full_said, full_seeds)])
    header = ["what is wrong in dW1", "scaled by", "gradcheck says wrong", "full check says wrong"]
    return (
        f"### 5. A small error in part of one array: {label(sizes)} tanh MLP, W1 of {sizes[0] * sizes[1]} "
        "entries (sampled by gradcheck)\n\n" + table(header, rows)
        + "\n\nThe random directions see an error in proportion to its share of the whole array's "
        "gradient, the full check entry by entry: a tiny error confined to a few entries can pass "
        "gradcheck and fail the full check. No planted bug is of that kind."
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a short run: fewer seeds and repeats")
    parser.add_argument("--repeats", type=int, help="interleaved timing runs per network (default 5)")
    parser.add_argument("--seeds", type=int, help="seeds for the corpus and small MLPs (default 100)")
    parser.add_argument("--big-seeds", type=int, help="seeds for the 235k MLP false alarms (default 10)")
    parser.add_argument("--batch", type=int, default=8, help="rows in the MLPs' batch")
    parser.add_argument("--full-max", type=int, default=5000,
                        help="largest network (parameters) whose full check is timed, not extrapolated")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS threads for everything but table 2 (0: the library's default)")
    args = parser.parse_args()
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.seeds = args.seeds or (10 if args.quick else 100)
    args.big_seeds = args.big_seeds or (3 if args.quick else 10)
    started = time.perf_counter()
    load = os.getloadavg()[0]
    sections = []
    with blas_threads(args.blas_threads):
        cost, _ = cost_table(args)
        sections.append(cost)
        sections.append(threads_table(args))
        few = max(3, args.seeds // 20)
        scales = [Scale(4, 3, args.seeds, max(3, args.seeds // 4)), Scale(12, 10, args.seeds, few),
                  Scale(32, 10, few, 1)]
        for i, scale in enumerate(scales):
            text, _ = corpus_table(scale, sampled=i == 0)
            sections.append(text)
        sections.append(mlp_false_alarms(args))
        sections.append(sensitivity_table(args))
    head = (
        f"Gradient checking: gradcheck against a full central-difference check, on {cores()} "
        f"(load average {load:.1f} at the start; numpy {np.__version__}); "
        f"{time.perf_counter() - started:.0f} s"
    )
    save("gradcheck", head + "\n\n" + "\n\n".join(sections), keep=not args.quick)


if __name__ == "__main__":
    main()
