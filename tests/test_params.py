"""Parameter and dataset files: initialisation, round trips, and every DataError message."""

import numpy as np
import pytest

from pcfpga.examples import example_path
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import (DataError, check_params, init_params, load_dataset,
                                  load_params, save_npz)

G = Graph.from_toml(str(example_path("xor")))


def test_init_is_deterministic_and_glorot():
    a, b, c = init_params(G, 3), init_params(G, 3), init_params(G, 4)
    assert list(a) == ["h.W.x", "h.b", "y.W.h", "y.b"]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["h.W.x"], c["h.W.x"])
    assert np.max(np.abs(a["h.W.x"])) <= np.sqrt(6 / (2 + 4))
    assert not np.any(a["h.b"])


def test_round_trip(tmp_path):
    p = init_params(G, 0)
    save_npz(tmp_path / "p.npz", {**p, "trace.h.eps": np.zeros(3)})
    q = load_params(tmp_path / "p.npz", G)
    assert all(np.array_equal(p[k], q[k]) for k in p)


@pytest.mark.parametrize("change, message", [
    (lambda p: p.pop("y.b"), "missing y.b (the graph needs h.W.x, h.b, y.W.h, y.b)"),
    (lambda p: p.update(z=np.zeros(1)), "unexpected z (the graph needs"),
    (lambda p: p.update({"h.b": np.zeros(3)}), "h.b has shape (3,), expected (4,)"),
    (lambda p: p.update({"h.b": np.full(4, np.nan)}), "h.b must hold finite numbers"),
])
def test_parameter_errors(change, message):
    p = init_params(G, 0)
    change(p)
    with pytest.raises(DataError) as info:
        check_params(G, p, "p.npz")
    assert str(info.value).startswith("p.npz: ") and message in str(info.value)


def test_file_errors(tmp_path):
    with pytest.raises(DataError, match="no such parameter file"):
        load_params(tmp_path / "none.npz", G)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .npz dataset file"):
        load_dataset(junk, G)
    with pytest.raises(DataError, match="is a folder, not a .npz parameter file"):
        load_params(tmp_path, G)
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(DataError, match=r"a single array \(.npy\), not a .npz dataset file"):
        load_dataset(tmp_path / "one.npy", G)


def test_golden_output_is_a_parameter_file(tmp_path):
    """A node may be called 'trace': only non-parameter 'trace.' arrays are skipped."""
    from pcfpga.golden.graph import GraphBuilder

    g = GraphBuilder("t").input("x", 1).dense("trace", ["x"], 1, output=True).build()
    p = init_params(g, 0)
    save_npz(tmp_path / "o.npz", {**p, "trace.trace.v": np.zeros((1, 2, 1))})
    assert np.array_equal(load_params(tmp_path / "o.npz", g)["trace.W.x"], p["trace.W.x"])


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((4, 3)), "y": np.zeros((4, 1))}, "'x' has shape (4, 3), expected (N, 2)"),
    ({"x": np.zeros((4, 2)), "y": np.zeros((3, 1))}, "'y' has 3 rows, the others 4"),
    ({"x": np.full((4, 2), np.inf), "y": np.zeros((4, 1))}, "'x' must hold finite numbers"),
    ({"x": np.zeros((0, 2)), "y": np.zeros((0, 1))}, "the dataset is empty"),
])
def test_dataset_errors(tmp_path, arrays, message):
    path = tmp_path / "d.npz"
    save_npz(path, arrays)
    with pytest.raises(DataError) as info:
        load_dataset(path, G)
    assert message in str(info.value)


def test_dataset_accepts_vectors_for_size_one_outputs(tmp_path):
    path = tmp_path / "d.npz"
    save_npz(path, {"x": np.zeros((4, 2)), "y": np.array([0.0, 1.0, 1.0, 0.0])})
    x, y, n = load_dataset(path, G)
    assert n == 4 and y["y"].shape == (4, 1)


def test_failed_write_leaves_nothing(tmp_path):
    class Boom:
        def __array__(self, *a, **k):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        save_npz(tmp_path / "p.npz", {"a": Boom()})
    assert list(tmp_path.iterdir()) == []
