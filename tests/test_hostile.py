"""Broken and hostile submissions, for every lesson: each gets exactly the score it earned.

Every lesson's corpus (see hostile.py) is graded as one class, so the test also shows that no
submission changes another's score.
"""

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import nbformat
import pytest
from hostile import build
from notebooks import ROOT

from coursekit.grading import sandbox
from coursekit.grading.course import Course
from coursekit.grading.pipeline import GradingRun, grade
from coursekit.grading.runner import executable_cells

COURSE = Course.load(ROOT / "autograder")

# Per lesson: the notebook, the functions of its first question, and code that merely delegates.
LESSONS = {
    "01-perceptron": ("perceptron", ["predict"], {
        "predict": "def predict(X, w, b):\n    return perceptron.predict(X, w, b)",
        "perceptron_update": "def perceptron_update(w, b, x, y, lr=1.0):\n"
                             "    return perceptron.update(w, b, x, y, lr)",
        "train_perceptron": "from coursekit.perceptron import train as _t\n"
                            "def train_perceptron(X, y, lr=1.0, max_epochs=100):\n"
                            "    r = _t(X, y, lr=lr, max_epochs=max_epochs)\n"
                            "    return r.w, r.b, r.epochs, r.converged",
    }, ["test_predict", "test_perceptron_update", "test_train_perceptron"]),
    "02-xor": ("xor", ["xor_gates"], {}, []),
    "03-chain-rule": ("chain-rule", ["d_univariate"], {
        "local_backward_rules": "import coursekit.layers as L\n"
                                "def add_backward(dout, x, y):\n    return dout * 1.0, dout * 1.0\n"
                                "def mul_backward(dout, x, y):\n    return dout * y, dout * x\n"
                                "def sigmoid_backward(dout, x):\n"
                                "    a, cache = L.sigmoid_forward(x)\n"
                                "    return L.sigmoid_backward(dout, cache)",
        "logistic_grads": "from coursekit.losses import binary_cross_entropy\n"
                          "def logistic_grads(w, b, x, y):\n"
                          "    z = w @ x + b\n"
                          "    _, dz = binary_cross_entropy(np.array([z]), np.array([y]), 'sum')\n"
                          "    return dz[0] * x, float(dz[0])",
    }, ["test_local_backward_rules", "test_logistic_grads"]),
    "04-two-layer": ("two-layer", ["two_layer_forward"], {
        "two_layer_forward": "def two_layer_forward(X, params):\n"
                             "    net = MLP([X.shape[1], len(params['b1']), len(params['b2'])],\n"
                             "              activation='sigmoid', output='sigmoid')\n"
                             "    net.params = {k: np.array(v, dtype=float) for k, v in params.items()}\n"
                             "    return net.forward(X), hidden_activations(net, X)[0]",
        "two_layer_grads": "def two_layer_grads(X, Y, params):\n"
                           "    net = MLP([X.shape[1], len(params['b1']), len(params['b2'])],\n"
                           "              activation='sigmoid', output='sigmoid', reduction='sum')\n"
                           "    net.params = {k: np.array(v, dtype=float) for k, v in params.items()}\n"
                           "    return net.loss(X, Y)",
    }, ["test_two_layer_forward", "test_two_layer_grads"]),
    "05-deep-backprop": ("deep-backprop", ["deep_forward"], {
        "softmax_loss": "def softmax_loss(logits, y):\n"
                        "    return losses.softmax_cross_entropy(logits, y, 'mean')",
        "l2_term": "def l2_term(params, lam):\n"
                   "    names = [n for n in params if n.startswith('W')]\n"
                   "    penalty, dWs = losses.l2_penalty([params[n] for n in names], lam)\n"
                   "    grads = {n: np.zeros_like(p) for n, p in params.items()}\n"
                   "    grads.update(zip(names, dWs))\n"
                   "    return penalty, grads",
        "train_network": "def train_network(X, y, sizes, *, epochs, lr, batch_size, lam=0.0,\n"
                         "                  activation='relu', seed=0):\n"
                         "    net = MLP(sizes, activation=activation, loss='softmax_cross_entropy',\n"
                         "              l2=lam, seed=seed)\n"
                         "    train(net, X, y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,\n"
                         "          progress=False)\n"
                         "    return net.params",
    }, ["test_softmax_loss", "test_l2_term", "test_train_network"]),
}

# Questions whose every output is a plain number: an extra array axis cannot break them.
SCALAR_ONLY = {"test_d_univariate"}
# Questions whose reference answer calls the first question's functions, so that breaking those
# breaks these too.
USES_FIRST = {"test_train_network"}


def points(assignment):
    nb = nbformat.read(COURSE.source / assignment / f"{LESSONS[assignment][0]}.ipynb", as_version=4)
    return {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader["points"]
            for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")}


def expected_scores(assignment):
    pts = points(assignment)
    first = next(iter(pts))
    _, _, _, delegated = LESSONS[assignment]
    full = dict(pts)
    none = dict.fromkeys(pts, 0)
    without_first = {g: (0 if g == first or g in USES_FIRST else p) for g, p in pts.items()}
    return {
        "honest": full, "blank": none, "patcher": none, "patcher_solved": full, "always_equal": none,
        "wrong_shape": {g: (p if g in SCALAR_ONLY else 0) for g, p in pts.items()},
        "test_editor": none, "test_deleter": full, "meta_editor": none, "fake_output": none,
        "noisy": full, "reader_writer": none, "escaper": none, "delegator": none, "looper": without_first,
        "memory_bomb": full, "exiter": without_first, "killer": full, "corrupt": none,
        "record_forger": none,
    }, delegated


@pytest.fixture(scope="module", params=list(LESSONS))
def graded(request, tmp_path_factory):
    # The corpus tries to write into the course's real files: without the sandbox it would.
    assert sandbox.bwrap() is not None, "these tests need a working bubblewrap (apt-get install bubblewrap)"
    assignment = request.param
    notebook, first_functions, delegated_code, _ = LESSONS[assignment]
    root = tmp_path_factory.mktemp(assignment)
    out, subs = root / "out", root / "subs"
    solution_file = COURSE.source / assignment / f"{notebook}.ipynb"
    judges = COURSE.root / "judges" / f"{assignment}.py"
    secrets = [solution_file, judges, out / "gradebook.db", out / "results" / "honest.json"]
    before = {p: p.read_bytes() for p in (solution_file, judges)}
    # What the "escaper" student tries to reach from its sandbox: a server, and a process.
    server = socket.create_server(("127.0.0.1", 0))
    victim = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
    try:
        corpus = build(COURSE.release / assignment / f"{notebook}.ipynb", solution_file, subs,
                       delegated_code, secrets, first_functions, (server.getsockname()[1], victim.pid))
        run = grade(assignment, subs, out, COURSE, timeout=10, log=lambda _: None)
        escaped = {"victim killed": victim.poll() is not None, "connected": _has_connection(server)}
    finally:
        victim.kill()
        victim.wait()
        server.close()
    return Graded(assignment, run, corpus, before, out, escaped)


class Graded(NamedTuple):
    assignment: str
    run: GradingRun
    corpus: dict
    before: dict
    out: Path
    escaped: dict


def _has_connection(server: socket.socket) -> bool:
    """Whether anyone connected to ``server`` (a connection waits in its backlog until accepted)."""
    server.setblocking(False)
    try:
        connection, _ = server.accept()
    except BlockingIOError:
        return False
    connection.close()
    return True


def test_every_submission_gets_exactly_what_it_earned(graded):
    assignment, run, corpus = graded.assignment, graded.run, graded.corpus
    expected, _ = expected_scores(assignment)
    assert set(expected) == set(corpus)
    got = {r.student: r.scores for r in run.results}
    wrong = {s: (got[s], expected[s]) for s in expected if got[s] != expected[s]}
    assert not wrong, wrong


def test_delegation_is_flagged_by_name(graded):
    assignment, run = graded.assignment, graded.run
    _, delegated = expected_scores(assignment)
    flags = run.by_student()["delegator"].flags
    for grade_id in delegated:
        assert any(f.startswith(grade_id) and "delegates to the library" in f for f in flags), flags
    assert not any("delegates" in f for f in run.by_student()["honest"].flags)


def test_tampering_is_flagged_and_honest_work_is_not(graded):
    run = graded.run
    by = run.by_student()
    assert any("edited" in f for f in by["test_editor"].flags)
    assert any("points" in f for f in by["test_editor"].flags)
    assert any("deleted" in f for f in by["test_deleter"].flags)
    assert any("grade" in f for f in by["meta_editor"].flags)
    for student in ("honest", "noisy", "memory_bomb"):
        assert by[student].flags == [], (student, by[student].flags)


def test_hostile_code_could_not_touch_the_course(graded):
    before, out = graded.before, graded.out
    for path, content in before.items():
        assert path.read_bytes() == content
    honest = json.loads((out / "results" / "honest.json").read_text())
    assert honest["student"] == "honest"
    assert not (out / "gradebook.db").read_bytes().endswith(b"tampered")


def test_crashes_and_limits_are_reported(graded):
    run = graded.run
    by = run.by_student()
    assert any("time limit" in p or "ran past" in p for f in by["looper"].failures.values() for p in
               (x["message"] for x in f))
    assert any("MemoryError" in n for n in by["memory_bomb"].notes), by["memory_bomb"].notes
    assert any("kernel died" in n for n in by["killer"].notes), by["killer"].notes
    assert "not JSON" in by["corrupt"].problems[0]
    # Results the student's code made unreadable are the student's loss, not a grader failure.
    assert all(any("the results could not be read" in x["message"] for x in failures)
               for failures in by["record_forger"].failures.values()), by["record_forger"].failures


def test_hostile_code_could_not_reach_the_network_or_other_processes(graded):
    assert graded.escaped == {"victim killed": False, "connected": False}
    # Its cell ran to the end (no note that it raised), and killing its parent did not even kill
    # its own kernel: inside the sandbox that is bwrap's pid 1.
    notebook = LESSONS[graded.assignment][0]
    student = nbformat.read(graded.out.parent / "subs" / "escaper" / f"{notebook}.ipynb", as_version=4)
    release = nbformat.read(COURSE.release / graded.assignment / f"{notebook}.ipynb", as_version=4)
    cells, _ = executable_cells(student, release)
    n = next(i for i, code in enumerate(cells, 1) if "escaped" in code)  # as the grader numbers them
    notes = graded.run.by_student()["escaper"].notes
    assert not any(note.startswith((f"code cell {n} ", f"code cell {n}:")) for note in notes), notes
    assert not any("kernel died" in n for n in notes), notes


def test_feedback_explains_without_revealing_the_hidden_tests(graded):
    assignment, run = graded.assignment, graded.run
    by = run.by_student()
    solution = (COURSE.source / assignment / f"{LESSONS[assignment][0]}.ipynb").read_text()
    hidden_code = solution[solution.index("BEGIN HIDDEN TESTS"):].split("END HIDDEN TESTS")[0]
    for student in ("wrong_shape", "delegator", "blank", "honest"):
        page = by[student].feedback[0].read_text()
        assert "BEGIN HIDDEN" not in page and "_rng" not in page and "default_rng" not in page
        assert hidden_code.splitlines()[2] not in page
    wrong = by["wrong_shape"].feedback[0].read_text()
    if any(by["wrong_shape"].failures.values()):
        assert "expected shape" in wrong and "got shape" in wrong
    _, delegated = expected_scores(assignment)
    if delegated:
        assert "delegates to the library" in by["delegator"].feedback[0].read_text()
