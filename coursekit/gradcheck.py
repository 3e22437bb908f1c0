"""Numerical gradients, and a gradient checker that stays fast on large networks.

:func:`gradcheck` compares analytic gradients with finite differences of the loss. Differencing
every coordinate costs two loss evaluations per parameter, which is hopeless for a network with
a few hundred thousand of them, so by default a large array is checked by

* random directional derivatives: for a random unit direction ``v``,
  ``(f(p + h v) - f(p - h v)) / 2h`` must equal ``<grad, v>``. Any wrong gradient, wherever its
  error lies, changes ``<grad, v>`` for almost every ``v``; and
* sampled coordinates, including the entry with the largest analytic gradient, which also give
  the index, analytic and numeric value reported for a failure.

Arrays with few entries are differenced in full. A mismatch is confirmed at a ten times smaller
step before it is reported, so that a ReLU kink crossed by one step does not raise a false alarm;
one that shrinks with the step, as a truncation error does, is extrapolated to a zero step. A
point exactly at a kink (a ReLU input of exactly 0, as zero biases and an input of zeros give)
has no derivative, and any value between the slopes on its two sides is a valid (sub)gradient:
a mismatch there is judged against that range.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

__all__ = ["numerical_gradient", "relative_error", "gradcheck", "GradcheckReport", "ParamCheck"]


def _require_float(x: np.ndarray, name: str) -> None:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array that f reads, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"{name} has dtype {x.dtype}; finite differences need a floating-point array "
            f"(an integer array cannot hold x + h). Convert it with .astype(np.float64)."
        )


def _scalar(value, what: str) -> float:
    """Copy ``value`` out as a float at once, so a returned view cannot change under us."""
    array = np.asarray(value)
    if array.size != 1:
        raise TypeError(
            f"{what} must return a scalar loss, got {type(value).__name__} of shape {array.shape}"
            + (" (did you mean lambda: net.loss(X, y)[0]?)" if isinstance(value, tuple) else "")
        )
    return float(array.reshape(()))


def numerical_gradient(f: Callable, x: np.ndarray, h: float | None = None, dout=None) -> np.ndarray:
    """Central-difference gradient of ``f`` at ``x``.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a scalar, or an array when ``dout`` is given. ``x`` is perturbed in place
        between calls, so ``f`` may read it or any array that shares its memory.
    x : float array, any shape
        Restored exactly afterwards.
    h : float, optional
        Step size; 1e-5 for float64 and 1e-2 for float32 by default. The difference is divided
        by the step that ``x``'s dtype could store, which in float32 is not quite ``2h``.
    dout : array, optional
        Upstream gradient with the shape of ``f(x)``; the result is then the gradient of
        ``sum(f(x) * dout)``, i.e. a vector-Jacobian product.

    Returns
    -------
    array, same shape as ``x``
    """
    _require_float(x, "x")
    h = _default_step(x.dtype.itemsize < 8) if h is None else h
    if dout is not None:
        dout = np.asarray(dout, dtype=np.float64)

    def evaluate() -> float:
        out = f(x)
        if dout is None:
            return _scalar(out, "f")
        out = np.array(out, dtype=np.float64, copy=True)
        if out.shape != dout.shape:
            raise ValueError(f"f(x) has shape {out.shape} but dout has shape {dout.shape}")
        return float(np.sum(out * dout))

    grad = np.zeros(x.shape, dtype=np.float64)
    flat = x.reshape(-1)  # a view: x is contiguous or reshape copies, checked below
    if not np.shares_memory(flat, x) and x.size:
        raise ValueError("x must be contiguous in memory to be perturbed in place")
    for i in range(x.size):
        grad.flat[i] = _difference_at(flat, i, h, evaluate).central
    return grad


def _nudged(value: np.floating, step: float) -> np.floating:
    """``value + step`` in ``value``'s dtype, and at least the next number it can hold: a step
    too small for a large value would otherwise leave it unchanged (and divide by zero)."""
    moved = value + value.dtype.type(step)
    if moved == value:
        moved = np.nextafter(value, value.dtype.type(np.inf if step > 0 else -np.inf))
    return moved


def _default_step(low_precision: bool) -> float:
    """Finite-difference step: float32 holds about 7 digits, so its step must be much larger."""
    return 1e-2 if low_precision else 1e-5


def relative_error(a, b) -> float:
    """``||a - b|| / (||a|| + ||b||)``, and 0 when both are zero.

    A norm-based measure: unlike the largest element-wise ratio it is not thrown off by entries
    where both gradients are zero up to rounding. Around 1e-7 or less is a match in float64.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of shapes {a.shape} and {b.shape}")
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


@dataclass
class ParamCheck:
    """The verdict on one parameter's gradient."""

    name: str
    ok: bool
    error: float
    how: str
    worst_index: tuple[int, ...] | None = None
    analytic: float | None = None
    numeric: float | None = None
    problem: str | None = None

    def __str__(self) -> str:
        verdict = "ok  " if self.ok else "FAIL"
        line = f"{verdict} {self.name:<8} error {self.error:9.2e}  ({self.how})"
        if self.problem:
            line += f"\n     {self.problem}"
        elif not self.ok and self.worst_index is not None:
            line += (
                f"\n     worst entry {self.name}[{', '.join(map(str, self.worst_index))}]: "
                f"analytic {self.analytic:.6g}, numeric {self.numeric:.6g}"
            )
        return line


@dataclass
class GradcheckReport:
    """Per-parameter results of :func:`gradcheck`. ``ok`` is True only if every one matches."""

    checks: list[ParamCheck]
    tolerance: float
    n_evaluations: int
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    def __getitem__(self, name: str) -> ParamCheck:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no parameter {name!r}; checked {[c.name for c in self.checks]}")

    def __str__(self) -> str:
        head = (
            f"gradcheck {'passed' if self.ok else 'FAILED: ' + ', '.join(self.failed)} "
            f"(tolerance {self.tolerance:.0e}, {self.n_evaluations} loss evaluations)"
        )
        return "\n".join([head, *map(str, self.checks), *self.notes])

    __repr__ = __str__


class _Difference(NamedTuple):
    """f on either side of the current point, ``up`` above it and ``down`` below it."""

    plus: float
    minus: float
    up: float
    down: float

    @property
    def central(self) -> float:
        return (self.plus - self.minus) / (self.up + self.down)

    def slopes(self, f0: float) -> tuple[float, float]:
        """The one-sided slopes, the lower first; they differ at a kink."""
        left, right = (f0 - self.minus) / self.down, (self.plus - f0) / self.up
        return min(left, right), max(left, right)


def _difference_at(a: np.ndarray, index, h: float, f: Callable[[], float]) -> _Difference:
    """f with ``a[index]`` moved up and down by ``h`` (the steps its dtype could store), then
    put back whatever happens."""
    old = a[index]
    try:
        a[index] = _nudged(old, h)
        up = float(a[index]) - float(old)
        plus = f()
        a[index] = _nudged(old, -h)
        down = float(old) - float(a[index])
        minus = f()
    finally:
        a[index] = old
    return _Difference(plus, minus, up, down)


class _Probe:
    """Evaluates ``f`` with one parameter moved, and always puts it back."""

    def __init__(self, f: Callable[[], float]):
        self.f = f
        self.count = 0

    def __call__(self) -> float:
        self.count += 1
        return _scalar(self.f(), "f()")

    def along(self, p: np.ndarray, direction: np.ndarray, h: float) -> _Difference:
        """f on either side along ``direction`` (same shape as ``p``)."""
        saved = p.copy()
        try:
            p += h * direction
            plus = self()
            p[...] = saved
            p -= h * direction
            minus = self()
        finally:
            p[...] = saved
        return _Difference(plus, minus, h, h)

    def at(self, p: np.ndarray, index: tuple[int, ...], h: float) -> _Difference:
        """f on either side of the single entry ``p[index]``, by the steps its dtype could store."""
        return _difference_at(p, index, h, self)


def gradcheck(
    f: Callable[[], float],
    params: Mapping[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    *,
    h: float | None = None,
    tol: float | None = None,
    atol: float | None = None,
    full_limit: int = 64,
    n_directions: int = 3,
    n_coords: int = 6,
    seed: int = 0,
) -> GradcheckReport:
    """Check analytic gradients against finite differences of ``f``.

    Parameters
    ----------
    f : callable
        ``f()`` returns the scalar loss at the current values of the arrays in ``params``,
        e.g. ``lambda: net.loss(X, y)[0]``. Those arrays are perturbed in place and restored.
    params : mapping of str to float array
        The arrays ``f`` reads, e.g. ``net.params``.
    grads : mapping of str to array
        Analytic gradients at the current values, same keys and shapes.
    h : float, optional
        Finite-difference step; 1e-5 for float64 and 1e-2 for float32 by default.
    tol : float, optional
        Largest accepted error per check: ``|numeric - analytic|`` divided by
        ``max(|numeric| + |analytic|, atol / tol)``, so a difference smaller than ``atol`` always
        passes. 1e-5 for float64, 1e-2 for float32.
    atol : float, optional
        Differences below this are rounding noise; defaults to ``1e-8 * max(1, |f()|)`` in
        float64 and ``1e-4 * max(1, |f()|)`` in float32. A central difference carries an absolute
        error of about ``eps * |f| / h`` whatever the size of the gradient, so entries whose
        gradient is that small (vanishing gradients, nearly unused inputs) can only be judged
        against this floor.
    full_limit : int
        Arrays with at most this many entries are differenced entry by entry.
    n_directions, n_coords : int
        For larger arrays: random directions, and sampled entries besides the largest one.
    seed : int
        Seeds the random directions and entries, so a check is reproducible.

    Returns
    -------
    GradcheckReport
        ``report.ok`` is the verdict; ``print(report)`` names each parameter with its error and,
        for a failure, the worst entry or the problem found.
    """
    for name, p in params.items():
        _require_float(p, f"params[{name!r}]")
    low_precision = any(p.dtype.itemsize < 8 for p in params.values())
    h = h if h is not None else _default_step(low_precision)
    tol = tol if tol is not None else (1e-2 if low_precision else 1e-5)
    probe = _Probe(f)
    f0 = probe()
    if not np.isfinite(f0):
        raise ValueError(f"f() returned {f0} at the current parameters; cannot check gradients")
    if atol is None:
        atol = (1e-4 if low_precision else 1e-8) * max(1.0, abs(f0))
    rng = np.random.default_rng(seed)

    checks = []
    for name, p in params.items():
        checks.append(
            _check_one(
                probe, f0, name, p, grads.get(name), h, tol, atol,
                full_limit, n_directions, n_coords, rng,
            )
        )
    notes = []
    extra = sorted(set(grads) - set(params))
    if extra:
        notes.append(f"note: grads has keys that params lacks: {extra}")
    if _scalar(f(), "f()") != f0:
        notes.append("note: f() changed value after the check; does it depend on hidden state?")
    return GradcheckReport(checks, tol, probe.count, notes)


def _check_one(
    probe, f0, name, p, g, h, tol, atol, full_limit, n_directions, n_coords, rng
) -> ParamCheck:
    if g is None:
        return ParamCheck(
            name, False, np.inf, "not checked", problem=f"grads has no entry {name!r}"
        )
    g = np.asarray(g)
    if g.shape != p.shape:
        return ParamCheck(
            name, False, np.inf, "not checked",
            problem=(
                f"shape mismatch: grads[{name!r}] has shape {g.shape}, "
                f"params[{name!r}] has {p.shape}"
            ),
        )
    if not np.all(np.isfinite(g)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(g))[0])
        return ParamCheck(name, False, np.inf, "not checked", index, float(g[index]), None,
                          problem=f"grads[{name!r}] has non-finite entries, first at {index}")

    # Relative error, with a floor under the denominator so that a difference below atol,
    # which finite differences cannot resolve, is never reported as a mismatch.
    floor = atol / tol if tol > 0 else atol

    def error(numeric: float, analytic: float) -> float:
        return abs(numeric - analytic) / max(abs(numeric) + abs(analytic), floor)

    def confirmed(measure) -> tuple[float, float]:
        """Numeric value and error at the step ``h``; if they disagree, again at ``h / 10``.

        At a kink, where the one-sided slopes stay apart as the step shrinks, any value between
        them is a valid (sub)gradient: the error is that of the analytic value from their range.
        Where the mismatch shrinks with the step instead, as a truncation error does (a wrong
        gradient's does not), a third step ``h / 100`` gives the rate, and the differences are
        extrapolated to a zero step (Richardson): the smallest error counts.
        """
        first, analytic = measure(h)
        numeric, err = first.central, error(first.central, analytic)
        if err <= tol:
            return numeric, err
        second, _ = measure(h / 10)
        if error(second.central, analytic) < err:
            numeric, err = second.central, error(second.central, analytic)
        if err <= tol:
            return numeric, err
        low, high = second.slopes(f0)
        first_low, first_high = first.slopes(f0)
        if high - low >= 0.5 * (first_high - first_low) > 0:  # a kink
            return numeric, min(err, error(min(max(analytic, low), high), analytic))
        if abs(second.central - analytic) <= 0.2 * abs(first.central - analytic):
            third, _ = measure(h / 100)
            if error(third.central, analytic) < err:
                numeric, err = third.central, error(third.central, analytic)
            c1, c2, c3 = first.central, second.central, third.central
            rate = (c2 - c3) / (c1 - c2) if c1 != c2 else 0.0
            if 0 < rate < 0.5:  # c_k - limit shrinks by ``rate`` per step: take the limit
                err = min(err, error(c3 - rate * (c2 - c3) / (1 - rate), analytic))
        return numeric, err

    # Entries to difference one by one: all of a small array, else the largest plus a sample.
    if p.size <= full_limit:
        indices = list(np.ndindex(p.shape))
        how = f"all {p.size} entries"
    else:
        flat = rng.choice(p.size, size=min(n_coords, p.size), replace=False)
        flat = np.unique(np.append(flat, np.argmax(np.abs(g))))
        indices = [tuple(int(i) for i in np.unravel_index(k, p.shape)) for k in flat]
        how = f"{n_directions} directions + {len(indices)} entries"

    worst = (-1.0, None, None, None)  # error, index, analytic, numeric

    def difference(entries) -> None:
        nonlocal worst
        for index in entries:
            numeric, err = confirmed(
                lambda step, index=index: (probe.at(p, index, step), float(g[index]))
            )
            if err > worst[0]:
                worst = (err, index, float(g[index]), numeric)

    difference(indices)
    max_err = worst[0]
    if p.size > full_limit:
        for _ in range(n_directions):
            v = rng.standard_normal(p.shape)
            v /= np.linalg.norm(v)
            _, err = confirmed(lambda step, v=v: (probe.along(p, v, step), float(np.sum(g * v))))
            max_err = max(max_err, err)

    ok = max_err <= tol
    problem = None
    if not ok and worst[0] <= tol:
        # A direction disagrees but no sampled entry does: bisect to find an entry that does.
        difference([_bisect(probe, p, g, h, rng)])
        if worst[0] <= tol:
            problem = (
                "the sampled entries match but a directional derivative does not: "
                "the error is spread thinly over many entries"
            )
    return ParamCheck(name, ok, max_err, how, worst[1], worst[2], worst[3], problem)


def _bisect(probe: _Probe, p: np.ndarray, g: np.ndarray, h: float, rng) -> tuple[int, ...]:
    """Index of an entry whose gradient is wrong, found by halving the candidates.

    A random direction supported on one half of the candidates shows a discrepancy between the
    numeric and the analytic directional derivative only if that half holds a wrong entry, so
    about ``4 * log2(p.size)`` loss evaluations locate one.
    """
    candidates = np.arange(p.size)
    while candidates.size > 1:
        halves = np.array_split(candidates, 2)
        gaps = []
        for half in halves:
            v = np.zeros(p.size)
            v[half] = rng.standard_normal(half.size)
            v = (v / np.linalg.norm(v)).reshape(p.shape)
            gaps.append(abs(probe.along(p, v, h).central - float(np.sum(g * v))))
        candidates = halves[int(np.argmax(gaps))]
    return tuple(int(i) for i in np.unravel_index(int(candidates[0]), p.shape))
