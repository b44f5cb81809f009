import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import trellis_ffi as ffi  # noqa: E402

# llama.cpp threads are always set explicitly (the test machine has 2 shared cores).
OPTIONS = ffi.ModelOptions(context_size=1024, threads=2, batch_size=256)


@pytest.fixture(scope="session")
def model():
    path = ffi.bundled_model_path()
    if not os.path.exists(path):
        pytest.fail(f"bundled model missing at {path}: run scripts/install-model.sh")
    return ffi.Model.load(path, OPTIONS)


def greedy(max_tokens):
    return ffi.GenerationOptions(sampling=ffi.Sampling.GREEDY(), max_tokens=max_tokens)
