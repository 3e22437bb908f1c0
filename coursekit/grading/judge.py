"""The judgement: compare what a student's functions returned with what the reference returned.

An assignment's checks live in ``<course>/judges/<assignment>.py``, beside the gradebook and out of
the students' reach. It defines ``CHECKS``, a list of :class:`Check`, one per graded question. A
check draws its trials (inputs) from a seeded generator; the trials run in the student's kernel
and in a kernel with the instructor's notebook, and this module compares the two recordings, in
the grader's own process, where no student code has run.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coursekit.grading.record import Opaque, is_number


@dataclass
class Trial:
    """One call of a graded function: ``function(*args, **kwargs)``, with a name for the feedback."""

    name: str
    function: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def as_record(self) -> dict:
        return {"name": self.name, "function": self.function, "args": list(self.args),
                "kwargs": dict(self.kwargs)}


@dataclass
class Check:
    """How one graded question is judged.

    Attributes
    ----------
    grade_id : str
        The question's test cell (``test_<function>``).
    trials : callable
        ``trials(rng) -> list of Trial``; ``rng`` is seeded with ``seed``.
    seed : int
    delegates : tuple of str
        ``"module:function"`` of library functions that do this question's job: a student's
        function that calls one earns nothing for the question, and the feedback says why.
    rtol, atol : float
        Tolerances of the comparison with the reference outputs.
    verdict : callable, optional
        ``verdict(trial, output) -> str or None``, for questions with many right answers (the
        weights of a network that computes XOR): a problem description, or None when right. The
        reference outputs are then not used.
    agreement : callable, optional
        ``agreement(trials, outputs) -> str or None``: a condition on the outputs of all the
        trials together (the same seed gives the same network), checked once each trial is right.
    keeps_random_state : bool
        Whether a call must leave numpy's global generator as it found it (the function is to
        draw from a generator of its own, ``np.random.default_rng(seed)``).
    """

    grade_id: str
    trials: Callable[[np.random.Generator], list[Trial]]
    seed: int
    delegates: tuple[str, ...] = ()
    rtol: float = 1e-6
    atol: float = 1e-9
    verdict: Callable | None = None
    agreement: Callable | None = None
    keeps_random_state: bool = False

    def draw(self) -> list[Trial]:
        return self.trials(np.random.default_rng(self.seed))


def load_checks(path: Path) -> list[Check]:
    """The ``CHECKS`` of a judges file."""
    if not path.is_file():
        raise FileNotFoundError(f"no judges file {path}: it defines how each question is checked")
    spec = importlib.util.spec_from_file_location(f"coursekit_judges_{path.stem.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    checks = list(module.CHECKS)
    if not all(isinstance(c, Check) for c in checks):
        raise TypeError(f"{path}: CHECKS must hold coursekit.grading.judge.Check objects")
    return checks


# -- the comparison ------------------------------------------------------------------------------


@dataclass
class CaseFailure:
    """Why one trial failed, as the feedback shows it."""

    trial: str
    message: str
    expected: str = ""
    got: str = ""


def describe(value, limit: int = 160) -> str:
    """A short text for the feedback: shape and dtype, and the values if they are few."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        text = np.array2string(value, precision=6, threshold=12, edgeitems=3, separator=", ")
        return f"array shape {value.shape}, dtype {value.dtype}: {text}"[:limit]
    if isinstance(value, (np.ndarray, np.generic)):
        value = value.item()
    if isinstance(value, dict):
        return "dict with keys " + ", ".join(map(repr, value))
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} of {len(value)}: " + ", ".join(describe(v, 60) for v in value)[:limit]
    return repr(value)[:limit]


def compare(got, expected, where: str, rtol: float, atol: float) -> str | None:
    """None if ``got`` matches ``expected``; else what differs, naming the part (``dW1``, ``output 2``)."""
    if isinstance(got, Opaque):
        return f"{where}: returned a {got.type_name}, which is not plain numbers or arrays"
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{where}: expected a dict, got {describe(got)}"
        if set(got) != set(expected):
            return f"{where}: expected keys {sorted(expected)}, got {sorted(got)}"
        for key in expected:
            problem = compare(got[key], expected[key], f"{where}[{key!r}]", rtol, atol)
            if problem:
                return problem
        return None
    if isinstance(expected, (tuple, list)):
        if (isinstance(expected, list) and isinstance(got, np.ndarray) and got.ndim == 1
                and got.dtype.kind in "iuf" and all(map(is_number, expected))):
            # numbers in an array rather than a list (of losses, say): the same answer. Not for
            # a tuple, the several values a function returns, as the notebooks' checks take them.
            got = list(got)
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{where}: expected {len(expected)} values, got {describe(got)}"
        for k, (g, e) in enumerate(zip(got, expected, strict=True)):
            problem = compare(g, e, f"{where} item {k}", rtol, atol)
            if problem:
                return problem
        return None
    if expected is None or isinstance(expected, str):
        return None if type(got) is type(expected) and got == expected else (
            f"{where}: expected {expected!r}, got {describe(got)}")
    if _is_bool(expected) and not _is_bool(got):  # as the notebooks' checks: True, not 1
        return f"{where}: expected {bool(expected)!r} (a bool), got {describe(got)}"
    return _compare_numbers(got, expected, where, rtol, atol)


def _is_bool(value) -> bool:
    """Whether ``value`` is one truth value: a bool, numpy's, or a 0-d boolean array."""
    return isinstance(value, (bool, np.bool_)) or (
        isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind == "b")


def _compare_numbers(got, expected, where, rtol, atol) -> str | None:
    if isinstance(got, (str, dict, tuple, list)) or got is None:
        return f"{where}: expected {describe(expected)}, got {describe(got)}"
    exp, arr = np.asarray(expected), np.asarray(got)
    expected_is_array = isinstance(expected, np.ndarray) and exp.ndim > 0
    if expected_is_array and not (isinstance(got, np.ndarray) and arr.ndim > 0):
        return f"{where}: expected an array of shape {exp.shape}, got {describe(got)}"
    if arr.shape != exp.shape:
        return f"{where}: expected shape {exp.shape}, got shape {arr.shape}"
    if expected_is_array and (exp.dtype.kind in "iub" and arr.dtype.kind == "f"
                              or exp.dtype.kind in "iu" and arr.dtype.kind == "b"):
        return f"{where}: expected an integer array (dtype {exp.dtype}), got dtype {arr.dtype}"
    if expected_is_array and exp.dtype.kind == "f" and arr.dtype.kind in "iu":  # as the notebooks' checks
        return f"{where}: expected a float array (dtype {exp.dtype}), got dtype {arr.dtype}"
    if exp.dtype.kind in "iuf" and arr.dtype.kind == "b":
        return f"{where}: expected numbers, got booleans"
    arr, exp = arr.astype(float), exp.astype(float)
    close = np.isclose(arr, exp, rtol=rtol, atol=atol) | (np.isnan(arr) & np.isnan(exp))
    if close.all():
        return None
    first = tuple(int(i) for i in np.argwhere(~close)[0]) if arr.ndim else ()
    at = f" first differs at index {first}:" if first else ""
    e, a = exp[first], arr[first]
    if not np.isfinite(a):
        error = "not a finite number"
    elif abs(e) > atol:
        error = f"relative error {abs(a - e) / abs(e):.3g}"
    else:  # a relative error means nothing where 0 is expected
        error = f"absolute error {abs(a - e):.3g}"
    return f"{where}:{at} expected {e:.6g}, got {a:.6g} ({error})"


def _changed_argument(after, trial: Trial) -> str | None:
    """The first argument (by position, or by name) the call left different from the trial's."""
    before = [list(trial.args), dict(trial.kwargs)]
    if not (isinstance(after, list) and len(after) == 2 and isinstance(after[0], list)
            and isinstance(after[1], dict) and len(after[0]) == len(before[0])
            and after[1].keys() == before[1].keys()):
        return "list" if compare(after, before, "arguments", 0.0, 0.0) else None
    for i, (a, b) in enumerate(zip(after[0], before[0], strict=True)):
        if compare(a, b, "argument", 0.0, 0.0):
            return str(i)
    for key, b in before[1].items():
        if compare(after[1][key], b, "argument", 0.0, 0.0):
            return repr(key)
    return None


# -- delegation ----------------------------------------------------------------------------------


def static_delegation(source: str, delegates: tuple[str, ...]) -> list[str]:
    """The ``delegates`` a piece of student code names: ``perceptron.predict``, an import of it, ..."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = set()
    for qualname in delegates:
        module, _, path = qualname.partition(":")
        name = path.split(".")[0]  # for "MLP.forward": any use of the class counts
        parent, _, last = module.rpartition(".")
        bases = {module, last, parent, *_aliases(tree, module, parent, last)} - {""}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == name:
                base = ast.unparse(node.value)
                if base in bases or base.endswith("." + last):
                    found.add(qualname)
            elif isinstance(node, ast.ImportFrom) and node.module in (module, parent):
                if any(alias.name in (name, "*") for alias in node.names):
                    found.add(qualname)
    return sorted(found)


def _aliases(tree, module: str, parent: str, last: str) -> set[str]:
    """Names the code binds to ``module`` or to its package: ``import coursekit.layers as L``,
    ``from coursekit import layers as L``, ``import coursekit as ck`` (for ``ck.MLP``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.asname for a in node.names if a.name in (module, parent) and a.asname)
        elif isinstance(node, ast.ImportFrom) and node.module == parent:
            names.update(a.asname or a.name for a in node.names if a.name == last)
    return names


# -- scoring ---------------------------------------------------------------------------------------


@dataclass
class QuestionResult:
    """The judgement of one question for one student."""

    grade_id: str
    points: float
    score: float = 0.0
    failures: list[CaseFailure] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    trials: int = 0

    @property
    def passed(self) -> bool:
        return self.score == self.points


def judge_question(check: Check, points: float, trials: list[Trial], student: list[dict] | None,
                   reference: list[dict] | None, solution_source: str,
                   missing_reason: str = "") -> QuestionResult:
    """Score one question: full points when every trial matches, none otherwise."""
    result = QuestionResult(check.grade_id, points, trials=len(trials))
    if student is None or len(student) != len(trials):
        result.failures.append(CaseFailure("all", missing_reason or "your functions could not be called"))
        return result
    delegated = set(static_delegation(solution_source, check.delegates))
    for k, (trial, got) in enumerate(zip(trials, student, strict=True)):
        delegated.update((got.get("delegated") or []) if isinstance(got, dict) else [])
        problem = _trial_problem(check, trial, got, reference[k] if reference else None)
        if problem:
            result.failures.append(problem)
    if not result.failures and check.agreement is not None:
        problem = check.agreement(trials, [got.get("out") for got in student])
        if problem:
            result.failures.append(CaseFailure("the trials together", problem))
    if delegated:
        names = ", ".join(d.replace(":", ".") for d in sorted(delegated))
        result.flags.append(f"delegates to the library ({names}): write the computation yourself")
    if not result.failures and not delegated:
        result.score = points
    return result


def _trial_problem(check: Check, trial: Trial, got: dict, ref: dict | None) -> CaseFailure | None:
    if not isinstance(got, dict):
        return CaseFailure(trial.name, "no result was recorded")
    if got.get("error"):
        return CaseFailure(trial.name, f"raised {got['error']}")
    if check.keeps_random_state and got.get("moved_random_state"):
        return CaseFailure(trial.name, "changed numpy's global random state (np.random.seed, "
                                       "np.random.randn, np.random.shuffle, ...): draw from "
                                       "np.random.default_rng(seed)")
    output = got.get("out")
    if check.verdict is not None:
        problem = check.verdict(trial, output)
        return CaseFailure(trial.name, problem, got=describe(output)) if problem else None
    if ref is None or ref.get("error"):
        raise RuntimeError(f"the reference solution failed on {check.grade_id} / {trial.name}: "
                           f"{ref and ref.get('error')}")
    problem = compare(output, ref["out"], "output", check.rtol, check.atol)
    if problem:
        return CaseFailure(trial.name, problem, expected=describe(ref["out"]), got=describe(output))
    after = got.get("args_after")
    if after is not None:
        changed = _changed_argument(after, trial)
        if changed is not None:
            return CaseFailure(trial.name,
                               f"changed its argument {changed} in place; return new values instead")
    return None
