"""How the questions of lesson 3 are judged (see coursekit.grading.judge)."""

import numpy as np

from coursekit.grading.judge import Check, Trial


def univariate_trials(rng):
    return [Trial("x = 1, the worked example", "d_univariate", (1.0,))] + [
        Trial(f"random x {k}", "d_univariate", (float(x),)) for k, x in enumerate(rng.uniform(-2.5, 2.5, 8))
    ]


def rules_trials(rng):
    trials = [Trial("add: v = u + c of the worked graph", "add_backward", (2.0, 6.0, 5.0)),
              Trial("mul: u = ab of the worked graph", "mul_backward", (2.0, 3.0, 2.0)),
              Trial("sigmoid at x = 0", "sigmoid_backward", (1.0, 0.0))]
    for k in range(4):
        shape = (int(rng.integers(1, 5)),)
        dout, x, y = rng.normal(size=shape), rng.normal(size=shape), rng.normal(size=shape)
        trials += [Trial(f"add, random arrays {k}", "add_backward", (dout, x, y)),
                   Trial(f"mul, random arrays {k}", "mul_backward", (dout, x, y)),
                   Trial(f"sigmoid, random arrays {k}", "sigmoid_backward", (dout, 3 * x))]
    return trials


def logistic_trials(rng):
    trials = [Trial("the worked example", "logistic_grads",
                    (np.array([0.5, -0.25]), 0.1, np.array([1.0, 2.0]), 1.0))]
    for k in range(8):
        n = int(rng.integers(1, 7))
        scale = 1.0 if k < 6 else 6.0  # the last ones saturate the sigmoid
        trials.append(Trial(f"random example {k} (n={n})", "logistic_grads",
                            (scale * rng.normal(size=n), float(rng.normal()), rng.normal(size=n),
                             float(rng.integers(0, 2)))))
    for y in (1.0, 0.0):  # z = 40: a rounds to exactly 1, where going through da divides by 1 - a = 0
        trials.append(Trial(f"a saturated at 1 (z = 40), y = {y:g}", "logistic_grads",
                            (np.array([4.0, 2.0]), 0.0, np.array([5.0, 10.0]), y)))
    return trials


CHECKS = [
    Check("test_d_univariate", univariate_trials, seed=3101, rtol=1e-7),
    Check("test_local_backward_rules", rules_trials, seed=3202,
          delegates=("coursekit.layers:sigmoid_backward",)),
    Check("test_logistic_grads", logistic_trials, seed=3303,
          delegates=("coursekit.losses:binary_cross_entropy",)),
]
