"""How the questions of lesson 2 are judged (see coursekit.grading.judge)."""

import numpy as np

from coursekit.grading.judge import Check, Trial
from coursekit.testing import CheckFailure, unpack

XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_LABELS = np.array([0, 1, 1, 0])


def unit(rng):
    return rng.integers(-2, 3, size=2).astype(float), float(rng.integers(-2, 3))


def gates_trials(rng):
    trials = [Trial("the XOR table with the hand-picked units", "xor_gates", (XOR_INPUTS,)),
              Trial("NOR in place of OR", "xor_gates", (XOR_INPUTS,),
                    {"or_unit": (np.array([-1.0, -1.0]), 0.5)})]
    for k in range(8):  # random whole-number units, so that z = 0 happens
        m = int(rng.integers(4, 17))
        X = rng.integers(0, 2, size=(m, 2)).astype(float) if k < 5 else rng.normal(size=(m, 2))
        trials.append(Trial(f"random units {k} (m={m})", "xor_gates", (X,),
                            {"or_unit": unit(rng), "nand_unit": unit(rng), "and_unit": unit(rng)}))
    trials.append(Trial("a batch of one example (m=1)", "xor_gates", (np.array([[1.0, 0.0]]),)))
    return trials


def relu_trials(rng):
    return [Trial("the parameters", "xor_relu_params"),
            Trial("the parameters, asked again", "xor_relu_params")]


def same_answer_twice(trials, outputs):
    """The parameters are chosen, not drawn: asked twice, the function gives the same ones."""
    if not all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(*outputs, strict=True)):
        return "asked twice, xor_relu_params returned different parameters: choose them, draw nothing"
    return None


def relu_verdict(trial, output):
    """Right when the 2-2-1 ReLU network computes XOR with a clear margin on the four points."""
    try:  # the notebook's own rule for several values, and its message
        output = unpack(output, ("W1", "b1", "W2", "b2"), "xor_relu_params()")
    except CheckFailure as failure:
        return str(failure)
    shapes = [(2, 2), (2,), (1, 2), (1,)]
    params = []
    for name, p, shape in zip(["W1", "b1", "W2", "b2"], output, shapes, strict=True):
        try:  # nested lists of numbers are as good as arrays, as the notebook's check takes them
            p = np.asarray(p)
        except ValueError:  # ragged
            return f"{name} must be a numeric array of shape {shape}"
        if p.dtype.kind not in "iuf" or p.shape != shape:
            return f"{name} must be a numeric array of shape {shape}"
        if not np.all(np.isfinite(p)):
            return f"{name} must hold finite numbers"
        params.append(p.astype(float))
    W1, b1, W2, b2 = params
    y_hat = np.maximum(XOR_INPUTS @ W1.T + b1, 0.0) @ W2.T + b2
    for x, out, label in zip(XOR_INPUTS, y_hat[:, 0], XOR_LABELS, strict=True):
        if (label == 1 and not out >= 0.75) or (label == 0 and not out <= 0.25):
            return f"x = {x.tolist()} is class {label}, but the network gives {out:.4g}"
    return None


def collapse_trials(rng):
    trials = [Trial("the notes' XOR network without its ReLU", "collapse",
                    (np.array([[1.0, 1.0], [2.0, 2.0]]), np.array([-1.0, -1.0]), np.array([[-3.0, 1.0]]),
                     np.array([0.0])))]
    for k in range(8):
        n_in, n_hidden, n_out = (int(v) for v in rng.integers(1, 6, size=3))
        trials.append(Trial(f"random layers {k} ({n_in}-{n_hidden}-{n_out})", "collapse",
                            (rng.normal(size=(n_hidden, n_in)), rng.normal(size=n_hidden),
                             rng.normal(size=(n_out, n_hidden)), rng.normal(size=n_out))))
    return trials


CHECKS = [
    Check("test_xor_gates", gates_trials, seed=2101,
          delegates=("coursekit.perceptron:predict", "coursekit.layers:step_forward")),
    Check("test_xor_relu_params", relu_trials, seed=2202, verdict=relu_verdict, agreement=same_answer_twice),
    Check("test_collapse", collapse_trials, seed=2303),
]
