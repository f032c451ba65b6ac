"""Shared fixtures of the data tests."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: these small tensors gain little from two, and on a shared 2-core
    machine OpenMP threads waiting for each other make ops up to 10x slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
