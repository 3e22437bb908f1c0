"""Shared fixtures."""

import pytest


@pytest.fixture(scope="session")
def single_threaded():
    """Run BLAS and torch on one thread.

    The library tests multiply small matrices many times; on a busy two-core machine the thread
    pools of OpenBLAS and torch then spend more time waiting for each other than computing.
    """
    import torch
    from threadpoolctl import threadpool_limits

    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1, user_api="blas"):
        yield
    torch.set_num_threads(torch_threads)


@pytest.fixture
def short_tmp():
    """A fresh folder with a short path (a Unix socket's path has at most 107 bytes), removed after."""
    import shutil
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="ck-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
