"""A corpus of broken and hostile submissions for any lesson, built from its notebooks.

Each variant is a student: the released notebook, changed the way a careless or a hostile student
would change it. ``EXPECTED`` in the tests says what each must score, question by question.
"""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import nbformat

from coursekit.grading.demo import reference_code


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def answers(solution_nb) -> dict[str, str]:
    """grade id of each answer cell -> the reference code, markers removed."""
    return {meta(c)["grade_id"]: reference_code(c.source)
            for c in solution_nb.cells if meta(c).get("solution")}


def function_names(code: str) -> list[str]:
    return [n.name for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)]


def _filled(release, solution, only: list[str] | None = None):
    nb = copy.deepcopy(release)
    code = answers(solution)
    for cell in nb.cells:
        gid = meta(cell).get("grade_id")
        if meta(cell).get("solution") and (only is None or gid in only):
            cell.source = code[gid]
    return nb


def _insert_after_setup(nb, source: str):
    """Add a code cell right after the first code cell (the imports)."""
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first + 1, nbformat.v4.new_code_cell(source))
    return nb


def _append_to_answers(nb, make_extra):
    """Append code to every answer cell: ``make_extra(function_name) -> code``."""
    for cell in nb.cells:
        if meta(cell).get("solution"):
            cell.source += "\n\n" + "\n".join(make_extra(name) for name in function_names(cell.source))
    return nb


PATCH_EVERYTHING = """
import builtins, math, sys
import numpy as np
import coursekit, coursekit.testing
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
math.isclose = lambda *a, **k: True
coursekit.testing.check_function = lambda *a, **k: print("All tests passed!")
coursekit.testing.check_value = lambda *a, **k: None
"""

# Patching builtins that IPython itself relies on breaks the kernel's own compiler, so this goes
# only into a submission that has nothing to lose.
PATCH_BUILTINS = """
builtins.all = lambda *a, **k: True
builtins.any = lambda *a, **k: True
builtins.len = lambda *a, **k: 4
"""

ALWAYS_EQUAL = """
class _Anything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __array__(self, *a, **k): raise TypeError("no")
    def __len__(self): return 4
    def __iter__(self): return iter([_Anything()] * 4)
    def __getitem__(self, i): return _Anything()
    shape = property(lambda self: _Anything())
    dtype = property(lambda self: _Anything())

"""

FAKE_SUCCESS = """
import sys
print("All tests passed! Score: 100/100")
print("PASS predict\\nPASS perceptron_update", file=sys.stdout)
sys.stderr.write("Tests finished with no failures\\n")
"""

ADD_AXIS = """
def _add_axis(value):
    import numpy as _np
    if isinstance(value, _np.ndarray) and value.ndim > 0:
        return value[..., None]
    if isinstance(value, tuple):
        return tuple(_add_axis(v) for v in value)
    if isinstance(value, dict):
        return {k: _add_axis(v) for k, v in value.items()}
    return value

"""


FORGE_RECORDS = """
from pathlib import Path
import coursekit.grading.record as _record

def _forged_save(path, value):
    Path(path).write_text('{"out": "all right", ')  # cut short: not JSON

_record.save = _forged_save
"""


def wrap(name: str, body: str) -> str:
    """Replace function ``name`` by a wrapper whose body may call ``_original``."""
    return (f"_original_{name} = {name}\n"
            f"def {name}(*args, **kwargs):\n"
            f"    _original = _original_{name}\n"
            + "".join(f"    {line}\n" for line in body.splitlines()))


ESCAPE = """
import os, signal, socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5).sendall(b"escaped")
    print("CONNECTED")
except OSError as e:
    print("blocked", e)
for pid in ({pid}, os.getppid()):
    try:
        os.kill(pid, signal.SIGKILL)
        print("KILLED", pid)
    except OSError as e:
        print("blocked", e)
"""


def build(release_path: Path, solution_path: Path, dest: Path, delegated: dict[str, str],
          secrets: list[Path], first_question_functions: list[str], outside: tuple[int, int]
          ) -> dict[str, str]:
    """Write the corpus of one notebook into ``dest`` (a folder per student); return name -> what.

    Parameters
    ----------
    delegated : dict
        For the "delegates" student: answer cell grade id -> code that only calls the library.
    secrets : list of Path
        Files a hostile student tries to read (the solutions, the judges) or write (the gradebook,
        another student's results).
    first_question_functions : list of str
        The functions judged by the first graded question, which some variants break.
    outside : (int, int)
        The port of a server on the grader's machine, and the pid of a process outside the
        sandbox: a hostile student tries to reach the one and to kill the other.
    """
    release = nbformat.read(release_path, as_version=4)
    solution = nbformat.read(solution_path, as_version=4)
    name = release_path.name
    first = set(first_question_functions)
    corpus = {}

    def add(student, what, nb):
        (dest / student).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, dest / student / name)
        corpus[student] = what

    add("honest", "every exercise solved", _filled(release, solution))
    add("blank", "the notebook as released", copy.deepcopy(release))
    add("patcher", "patches numpy, math, builtins and the test helpers; exercises left empty",
        _insert_after_setup(copy.deepcopy(release), PATCH_EVERYTHING + PATCH_BUILTINS))
    add("patcher_solved", "patches numpy, math, builtins and the test helpers, but solved everything",
        _insert_after_setup(_filled(release, solution), PATCH_EVERYTHING))
    add("always_equal", "every function returns an object equal to anything",
        _append_to_answers(_insert_after_setup(copy.deepcopy(release), ALWAYS_EQUAL),
                           lambda f: f"def {f}(*args, **kwargs):\n    return _Anything()\n"))
    add("wrong_shape", "right values with an extra axis on every array",
        _append_to_answers(_insert_after_setup(_filled(release, solution), ADD_AXIS),
                           lambda f: wrap(f, "return _add_axis(_original(*args, **kwargs))")))

    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if meta(cell).get("grade"):
            cell.source = "print('All tests passed!')"
            cell.metadata["nbgrader"]["points"] = 100
    add("test_editor", "rewrote the test cells to print success and raised their points", nb)

    nb = _filled(release, solution)
    nb.cells = [c for c in nb.cells if not meta(c).get("grade")]
    add("test_deleter", "solved everything, then deleted every test cell", nb)

    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if meta(cell).get("solution"):
            cell.metadata["nbgrader"]["grade"] = True
            cell.metadata["nbgrader"]["points"] = 50
    add("meta_editor", "made the empty answer cells graded cells worth 50 points", nb)

    add("fake_output", "prints fake success to stdout and stderr; exercises left empty",
        _insert_after_setup(copy.deepcopy(release), FAKE_SUCCESS))
    add("noisy", "solved everything; every function also prints warnings to stderr",
        _append_to_answers(_filled(release, solution), lambda f: wrap(
            f, "import sys, warnings\nprint('debug: called', file=sys.stderr)\n"
               "warnings.warn('a warning from the student code')\nreturn _original(*args, **kwargs)")))

    reads = "\n".join(
        f"try:\n    _stolen_{i} = open({str(p)!r}).read()\n    print('READ', {str(p)!r})\n"
        f"except Exception as e:\n    print('blocked', type(e).__name__)\n" for i, p in enumerate(secrets))
    writes = "\n".join(
        f"try:\n    open({str(p)!r}, 'a').write('tampered')\n"
        f"except Exception as e:\n    print('blocked', e)\n" for p in secrets)
    add("reader_writer", "tries to read the solutions and judges and write the gradebook and others' "
        "results; exercises left empty",
        _insert_after_setup(copy.deepcopy(release), reads + "\n" + writes))
    port, pid = outside
    add("escaper", "tries to reach a server on the grader's machine and to kill a process outside its "
        "sandbox, and its own parent; exercises left empty",
        _insert_after_setup(copy.deepcopy(release), ESCAPE.format(port=port, pid=pid)))
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if meta(cell).get("solution"):
            cell.source = delegated.get(meta(cell)["grade_id"], cell.source)
    add("delegator", "hands the graded work to the library", nb)

    loop_in_first = _filled(release, solution)
    _append_to_answers(loop_in_first, lambda f: wrap(f, "while True:\n    pass") if f in first else "")
    add("looper", "solved everything, but the first question's functions loop forever", loop_in_first)

    nb = _insert_after_setup(_filled(release, solution),
                             "import numpy as np\ntry:\n    _bomb = np.ones(10**11)\nexcept MemoryError:\n"
                             "    pass\n_hog = [bytearray(10**8) for _ in range(40)]")
    add("memory_bomb", "solved everything, plus a cell that allocates far past the memory cap", nb)

    exit_in_first = _filled(release, solution)
    _append_to_answers(exit_in_first, lambda f: wrap(f, "import os\nos._exit(3)") if f in first else "")
    add("exiter", "solved everything, but the first question's functions call os._exit", exit_in_first)

    nb = _filled(release, solution)
    nb.cells.append(nbformat.v4.new_code_cell("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"))
    add("killer", "solved everything, and the last cell kills its own kernel", nb)

    nb = _filled(release, solution)
    nb.cells.append(nbformat.v4.new_code_cell(FORGE_RECORDS))
    add("record_forger", "solved everything, and makes the grader's recorder write unreadable results", nb)

    (dest / "corrupt").mkdir(parents=True, exist_ok=True)
    (dest / "corrupt" / name).write_text(json.dumps(nbformat.v4.new_notebook())[:40])
    corpus["corrupt"] = "a file cut in half"
    return corpus
