"""How the questions of lesson 1 are judged (see coursekit.grading.judge)."""

import numpy as np

from coursekit.grading.judge import Check, Trial

GATE_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
GATES = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "NAND": [1, 1, 1, 0], "XOR": [0, 1, 1, 0]}


def predict_trials(rng):
    trials = [
        Trial("AND weights on the gate inputs", "predict", (GATE_INPUTS, np.array([1.0, 1.0]), -1.5)),
        Trial("a point on the boundary (z = 0 gives 1)", "predict",
              (np.array([[1.0, 1.0], [1.0, 2.0]]), np.array([1.0, -1.0]), 0.0)),
    ]
    for k in range(6):
        m, n = int(rng.integers(5, 21)), int(rng.integers(2, 6))
        trials.append(Trial(f"random batch {k} (m={m}, n={n})", "predict",
                            (rng.normal(size=(m, n)), rng.normal(size=n), float(rng.normal()))))
    for k in range(3):  # whole numbers put many examples exactly on the boundary
        m, n = int(rng.integers(5, 21)), int(rng.integers(2, 6))
        trials.append(Trial(f"whole-number batch {k} (m={m}, n={n})", "predict",
                            (rng.integers(0, 2, size=(m, n)).astype(float),
                             rng.integers(-2, 3, size=n).astype(float), float(rng.integers(-2, 3)))))
    # A batch of one gives an array of shape (1,), not a number: nothing squeezed away.
    trials.append(Trial("a batch of one example (m=1)", "predict",
                        (np.array([[2.0, -1.0]]), np.array([0.5, 0.5]), 0.0)))
    return trials


def update_trials(rng):
    trials = [Trial("missed positive, the worked update", "perceptron_update",
                    (np.array([0.0, 0.0]), -1.0, np.array([1.0, 1.0]), 1, 1.0)),
              Trial("false alarm on the boundary", "perceptron_update",
                    (np.array([0.0, 0.0]), 0.0, np.array([0.0, 0.0]), 0, 1.0))]
    for k in range(8):
        n = int(rng.integers(2, 6))
        w, b, x = rng.normal(size=n), float(rng.normal()), rng.normal(size=n)
        right = int(x @ w + b >= 0)
        y = right if k % 2 == 0 else 1 - right
        trials.append(Trial(f"random example {k} (n={n}, y={y})", "perceptron_update",
                            (w, b, x, y, float(rng.uniform(0.1, 2.0)))))
    return trials


def separable(rng, m, n):
    """m points in a cube, labelled by a random plane, none of them close to it."""
    centre, w = rng.normal(size=n), rng.normal(size=n)
    b = -float(centre @ w)
    X = centre + rng.uniform(-1.0, 1.0, size=(8 * m, n))
    X = X[np.abs(X @ w + b) >= 0.1 * np.linalg.norm(w)][:m]
    return X, (X @ w + b >= 0).astype(int)


def train_trials(rng):
    trials = [Trial(f"{gate} gate", "train_perceptron", (GATE_INPUTS, np.array(labels)))
              for gate, labels in GATES.items() if gate != "XOR"]
    trials.append(Trial("XOR, max_epochs = 7: gives up", "train_perceptron",
                        (GATE_INPUTS, np.array(GATES["XOR"])), {"max_epochs": 7}))
    for k in range(5):
        X, y = separable(rng, int(rng.integers(6, 16)), int(rng.integers(2, 5)))
        trials.append(Trial(f"separable data {k} (m={len(X)}, n={X.shape[1]})", "train_perceptron",
                            (X, y), {"lr": float(rng.uniform(0.2, 1.5)), "max_epochs": 500}))
    # From zeros, OR is learnt in its 4th epoch and NAND in its 6th, whatever the rate: allowed just
    # that many, the run converges on its last epoch; allowed one fewer, it stops short.
    for gate, max_epochs in (("OR", 3), ("OR", 4), ("NAND", 6)):
        trials.append(Trial(f"{gate} gate, max_epochs = {max_epochs}", "train_perceptron",
                            (GATE_INPUTS, np.array(GATES[gate])), {"lr": 0.5, "max_epochs": max_epochs}))
    return trials


CHECKS = [
    Check("test_predict", predict_trials, seed=1101, delegates=("coursekit.perceptron:predict",)),
    Check("test_perceptron_update", update_trials, seed=1202, delegates=("coursekit.perceptron:update",)),
    Check("test_train_perceptron", train_trials, seed=1303,
          delegates=("coursekit.perceptron:train", "coursekit.perceptron:update")),
]
