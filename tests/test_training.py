"""Training results on the shipped datasets, and the training loop's behaviour."""

import numpy as np
import pytest

from pcfpga.examples import data_path, example_path
from pcfpga.golden.backprop import Backprop
from pcfpga.golden.fixed_model import FixedPC
from pcfpga.golden.float_model import FloatPC
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params, load_dataset
from pcfpga.golden.training import TrainingDiverged, evaluate, is_classification, train


def load(name):
    g = Graph.from_toml(str(example_path(name)))
    if name == "xor":
        return g, load_dataset(str(data_path("xor")), g), None
    return (g, load_dataset(str(data_path(f"{name}_train")), g),
            load_dataset(str(data_path(f"{name}_test")), g))


def quiet(line):
    pass


def test_xor_fixed_reaches_full_accuracy():
    g, data, _ = load("xor")
    _, hist = train(FixedPC(g), init_params(g, 0), data, epochs=300, seed=0, log=quiet)
    assert hist.train_acc[-1] == 1.0
    assert hist.train_loss[-1] < 0.01


def test_iris_fixed_test_accuracy():
    """Shipped split (examples/make_data.py): 120 training, 30 test samples."""
    g, tr, te = load("iris")
    _, hist = train(FixedPC(g), init_params(g, 0), tr, te, epochs=30, seed=0, log=quiet)
    print(f"iris fixed-point test accuracy {hist.test_acc[-1]:.4f}")
    assert hist.test_acc[-1] >= 0.93


def test_exact_pc_trains_like_backprop():
    g, tr, te = load("iris")
    p0 = init_params(g, 0)
    _, pc = train(FloatPC(g), p0, tr, te, epochs=5, seed=0, log=quiet)
    _, bp = train(Backprop(g), p0, tr, te, epochs=5, seed=0, log=quiet)
    assert np.allclose(pc.train_loss, bp.train_loss, rtol=1e-9, atol=0)
    assert np.allclose(pc.test_loss, bp.test_loss, rtol=1e-9, atol=0)


def test_training_is_deterministic_and_seeded():
    g, data, _ = load("teacher_2_4_3")
    runs = [train(FixedPC(g), init_params(g, 0), data, epochs=2, seed=s, log=quiet)[0]
            for s in (0, 0, 1)]
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert any(not np.array_equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_divergence_is_reported():
    g, data, _ = load("teacher_2_4_3")
    g = g.with_settings(mode="standard", eta_v=0.5, ticks=4)
    with pytest.raises(TrainingDiverged, match=r"training diverged at epoch \d+ \(train loss "
                                               r"nan\); try a smaller learning.eta_theta"):
        with np.errstate(all="ignore"):
            train(FloatPC(g), init_params(g, 0), data, epochs=20, seed=0, log=quiet)


def test_metrics():
    y = {"y": np.array([[1.0, 0.0], [0.0, 1.0]])}
    assert is_classification(y) and not is_classification({"y": np.array([[0.5]])})

    class Fixed:
        def predict(self, params, x):
            return {"y": np.array([[0.9, 0.2], [0.6, 0.4]])}

    loss, acc = evaluate(Fixed(), None, {}, y)
    assert acc == 0.5
    assert loss == pytest.approx(np.mean([0.5 * (0.01 + 0.04), 0.5 * (0.36 + 0.36)]))
