"""How the questions of lesson 4 are judged (see coursekit.grading.judge)."""

import numpy as np

from coursekit.grading.judge import Check, Trial

# The library code that does a question's whole job: calling it is not solving the exercise.
FORWARD = ("coursekit.mlp:MLP.forward", "coursekit.mlp:MLP.forward_logits",
           "coursekit.layers:linear_forward")
BACKWARD = ("coursekit.mlp:MLP.loss", "coursekit.mlp:MLP.backward", "coursekit.layers:linear_backward",
            "coursekit.layers:sigmoid_backward")

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def network(rng, n_in, n_hidden, n_out, scale):
    return {"W1": scale * rng.normal(size=(n_hidden, n_in)), "b1": scale * rng.normal(size=n_hidden),
            "W2": scale * rng.normal(size=(n_out, n_hidden)), "b2": scale * rng.normal(size=n_out)}


def forward_trials(rng):
    notes = {"W1": np.array([[1.0, -2.0], [-1.0, 1.0]]), "b1": np.array([1.0, 0.0]),
             "W2": np.array([[2.0, -1.0], [-2.0, -1.0]]), "b2": np.array([0.0, 0.0])}
    trials = [Trial("the first two layers of the notes' 2-2-2-2 network", "two_layer_forward",
                    (np.array([[1.0, -1.0], [0.0, 0.0]]), notes))]
    for k in range(6):
        n_in, n_hidden, n_out, m = (int(v) for v in rng.integers(1, 7, size=4))
        trials.append(Trial(f"random network {k} ({n_in}-{n_hidden}-{n_out}, m={m})", "two_layer_forward",
                            (rng.normal(size=(m, n_in)), network(rng, n_in, n_hidden, n_out, 2.0))))
    trials.append(Trial("one output, one example (2-3-1, m=1)", "two_layer_forward",
                        (rng.normal(size=(1, 2)), network(rng, 2, 3, 1, 2.0))))
    return trials


def grads_trials(function):
    def trials(rng):
        out = []
        for k in range(6):
            n_in, n_hidden, n_out = (int(v) for v in rng.integers(1, 7, size=3))
            m = int(rng.integers(1, 40))
            out.append(Trial(f"random network {k} ({n_in}-{n_hidden}-{n_out}, m={m})", function,
                             (rng.normal(size=(m, n_in)), rng.uniform(size=(m, n_out)),
                              network(rng, n_in, n_hidden, n_out, 1.5))))
        out.append(Trial("one output, one example (2-3-1, m=1)", function,
                         (rng.normal(size=(1, 2)), rng.uniform(size=(1, 1)), network(rng, 2, 3, 1, 1.5))))
        return out
    return trials


def step_trials(rng):
    trials = []
    for k in range(5):
        params = network(rng, *(int(v) for v in rng.integers(1, 6, size=3)), 1.0)
        grads = {name: rng.normal(size=p.shape) for name, p in params.items()}
        lr = float(rng.uniform(0.01, 2.0))
        trials.append(Trial(f"random step {k}", "gradient_step", (params, grads, lr)))
    # "every key of params": a network of three layers, and keys in another order
    params = {**network(rng, 3, 4, 2, 1.0), "W3": rng.normal(size=(1, 2)), "b3": rng.normal(size=1)}
    params = dict(reversed(params.items()))
    grads = {name: rng.normal(size=p.shape) for name, p in params.items()}
    trials.append(Trial("three layers, keys last to first", "gradient_step", (params, grads, 0.5)))
    return trials


def train_trials(rng):
    trials = [Trial("XOR, 3 hidden units, lr 2, 300 epochs", "train_two_layer",
                    (XOR_X, XOR_Y, 3, 2.0, 300, int(rng.integers(1000))))]
    for k in range(2):
        m, n_in, n_out = int(rng.integers(2, 9)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
        trials.append(Trial(f"random problem {k}", "train_two_layer",
                            (rng.normal(size=(m, n_in)), rng.uniform(size=(m, n_out)),
                             int(rng.integers(1, 6)), float(rng.uniform(0.1, 1.0)), int(rng.integers(1, 60)),
                             int(rng.integers(1000)))))
    trials.append(Trial("epochs = 0: the initial weights, and no losses", "train_two_layer",
                        (XOR_X, XOR_Y, 3, 2.0, 0, 7)))
    return trials


CHECKS = [
    Check("test_two_layer_forward", forward_trials, seed=4101, delegates=FORWARD),
    Check("test_two_layer_grads_loop", grads_trials("two_layer_grads_loop"), seed=4202, delegates=BACKWARD,
          rtol=1e-7, atol=1e-10),
    Check("test_two_layer_grads", grads_trials("two_layer_grads"), seed=4303, delegates=BACKWARD,
          rtol=1e-7, atol=1e-10),
    Check("test_gradient_step", step_trials, seed=4404, delegates=("coursekit.mlp:MLP.step",)),
    Check("test_train_two_layer", train_trials, seed=4505,
          delegates=("coursekit.training:train", "coursekit.mlp:MLP.loss", "coursekit.mlp:MLP.step"),
          rtol=1e-6, atol=1e-9),
]
