"""Check that this interpreter's numpy multiplies with MKL loaded from its own environment.

``make bench-mkl`` runs it after building numpy on MKL, so that a numpy taken from a cache, or
linked to an MKL elsewhere on the machine, is caught before it is timed.
"""

import sys
from pathlib import Path

import numpy as np


def main() -> None:
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    if not blas.startswith("mkl"):
        sys.exit(f"numpy {np.__version__} is built on {blas}, not MKL")
    np.ones((64, 64)) @ np.ones((64, 64))  # MKL's libraries are all loaded by now
    prefix = Path(sys.prefix).resolve()
    mapped = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
              if "libmkl" in line}
    outside = sorted(path for path in mapped if not Path(path).resolve().is_relative_to(prefix))
    if not mapped or outside:
        sys.exit(f"numpy's MKL should load from {prefix}; loaded: {sorted(mapped) or 'none'}")
    print(f"numpy {np.__version__} on {blas}, from {prefix}")


if __name__ == "__main__":
    main()
