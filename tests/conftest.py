"""Shared fixtures: bundled examples, seeded generators that print their seed on failure."""

import os

import numpy as np
import pytest

from pcfpga.examples import EXAMPLES, example_path
from pcfpga.golden.graph import Graph

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(params=EXAMPLES)
def example(request):
    """Each bundled example graph."""
    return Graph.from_toml(str(example_path(request.param)))


@pytest.fixture
def rng(request):
    """A seeded generator; the seed is reported if the test fails."""
    seed = 12345
    request.node.user_properties.append(("seed", seed))
    print(f"rng seed {seed}")
    return np.random.default_rng(seed)
