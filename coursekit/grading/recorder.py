"""Runs inside the student's kernel: call the graded functions on the trial inputs, save what they return.

The grader appends one call of :func:`record` per question to the student's notebook. Nothing is
judged here: the outputs are written as plain arrays (see :mod:`coursekit.grading.record`) and
compared with the reference solution's outputs in the grader, where no student code has run.
While a trial runs, a profiler notes any call into the library functions that do the same job, so
that a graded function which merely hands its work to the library can be flagged.
"""

from __future__ import annotations

import copy
import importlib
import signal
import sys

import numpy as np

from coursekit.grading import record as _record


class TrialTimeout(BaseException):  # not an Exception, so a student's ``except Exception`` lets it through
    """A trial ran past its time."""


def _resolve(qualname: str):
    """The code object of ``"module:function"`` or ``"module:Class.method"``, or None."""
    module, _, path = qualname.partition(":")
    try:
        target = importlib.import_module(module)
        for part in path.split("."):
            target = getattr(target, part)
        return target.__code__
    except (ImportError, AttributeError):
        return None


def _call(function, args, kwargs, watched: dict, seconds: float):
    """``function(*args, **kwargs)``, noting calls into ``watched`` code and stopping after ``seconds``."""
    seen: set[str] = set()

    def profiler(frame, event, arg):
        if event == "call" and frame.f_code in watched:
            seen.add(watched[frame.f_code])

    def alarm(signum, frame):
        raise TrialTimeout

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    sys.setprofile(profiler)
    try:
        value = function(*args, **kwargs)
    finally:
        sys.setprofile(None)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return value, sorted(seen)


def _global_random_state() -> tuple:
    """The state of numpy's global generator, which ``np.random.seed``, ``np.random.rand`` and the
    like move, in a form that compares with ``==``."""
    _, keys, position, has_gauss, gauss = np.random.get_state()  # noqa: NPY002 (that very generator)
    return keys.tobytes(), position, has_gauss, gauss


def record(trials_path: str, out_path: str, delegates: list[str], seconds: float = 20.0) -> None:
    """Run every trial of one question and save the results to ``out_path``.

    Parameters
    ----------
    trials_path : str
        Saved list of trials, each a dict with ``name``, ``function``, ``args`` and ``kwargs``.
    out_path : str
        Where the results go: one dict per trial with ``out`` (the return value), ``args_after``
        (the arguments after the call), ``error``, ``delegated`` and ``moved_random_state``
        (whether the call moved numpy's global generator).
    delegates : list of str
        ``"module:function"`` names of library functions that do the graded job themselves.
    seconds : float
        Time limit of each trial.
    """
    namespace = sys.modules["__main__"].__dict__
    watched = {code: name for name in delegates if (code := _resolve(name)) is not None}
    results = []
    timed_out: set[str] = set()  # a function that ran out of time once is not called again
    for trial in _record.load(trials_path):
        function = namespace.get(trial["function"])
        result = {"out": None, "args_after": None, "error": None, "delegated": [],
                  "moved_random_state": False}
        if trial["function"] in timed_out:
            result["error"] = f"TimeoutError: an earlier call ran past {seconds:g} s"
            results.append(result)
            continue
        if not callable(function):
            result["error"] = f"NameError: {trial['function']} is not defined"
            results.append(result)
            continue
        args, kwargs = copy.deepcopy(trial["args"]), copy.deepcopy(trial["kwargs"])
        try:
            before = _global_random_state()
            value, result["delegated"] = _call(function, args, kwargs, watched, seconds)
            result["out"] = value
            result["args_after"] = [list(args), kwargs]
            result["moved_random_state"] = _global_random_state() != before
        except TrialTimeout:
            result["error"] = f"TimeoutError: the call ran past {seconds:g} s"
            timed_out.add(trial["function"])
        except Exception as error:  # the student's error is the result of this trial
            result["error"] = f"{type(error).__name__}: {error}"[:500]
        results.append(result)
    _record.save(out_path, results)
