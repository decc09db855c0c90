"""Regenerate the bundled datasets in ``examples/data/`` (they ship; this documents them).

    python -m pcfpga.examples.make_data     # needs scikit-learn for Iris and digits only

* ``xor.npz``: the four XOR points, x in {0, 1}², y = x0 xor x1.
* ``iris_train.npz`` / ``iris_test.npz``: scikit-learn's Iris, split 120 / 30 stratified by
  class with ``train_test_split(random_state=0)``; features standardised with the training
  split's mean and standard deviation; targets one-hot (3 columns).
* ``digits_train.npz`` / ``digits_test.npz``: scikit-learn's 8x8 digits (1,797 images),
  split 1,437 / 360 stratified by class with ``train_test_split(test_size=360,
  random_state=0)``; pixels (0-16) divided by 16 into [0, 1]; targets one-hot (10 columns).
* ``teacher_2_4_3.npz``, ``tanh_2_2_1.npz``, ``dag.npz``: teacher-student regressions.
  A teacher of the example's own graph with parameters ``init_params(graph, seed=1234)``
  scaled by 2 (biases U(-0.5, 0.5)) labels 256 inputs x ~ U(-1, 1) (seed 4321); the first
  192 rows are the training set (``*_train`` in the file names), the last 64 the test set.
"""

from __future__ import annotations

import os

import numpy as np

from ..golden.backprop import Backprop
from ..golden.graph import Graph
from ..golden.params import init_params, save_npz
from . import example_path

__all__ = ["make_all", "teacher_data", "xor_data", "iris_data", "digits_data"]

HERE = os.path.dirname(os.path.abspath(__file__))
TEACHERS = ("teacher_2_4_3", "tanh_2_2_1", "dag")


def xor_data() -> dict:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return {"x": x, "y": np.logical_xor(x[:, 0], x[:, 1]).astype(np.float64)[:, None]}


def teacher_data(name: str, n: int = 256) -> dict:
    graph = Graph.from_toml(str(example_path(name)))
    rng = np.random.default_rng(1234)
    params = {k: 2 * v for k, v in init_params(graph, seed=1234).items()}
    for k in params:
        if k.endswith(".b"):
            params[k] = rng.uniform(-0.5, 0.5, params[k].shape)
    xrng = np.random.default_rng(4321)
    x = {node.name: xrng.uniform(-1, 1, (n, node.size)) for node in graph.inputs}
    y = Backprop(graph).predict(params, x)
    return {**x, **y}


def iris_data():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    data = load_iris()
    xtr, xte, ytr, yte = train_test_split(data.data, data.target, test_size=30,
                                          stratify=data.target, random_state=0)
    mu, sd = xtr.mean(0), xtr.std(0)
    one_hot = np.eye(3)
    return ({"x": (xtr - mu) / sd, "y": one_hot[ytr]},
            {"x": (xte - mu) / sd, "y": one_hot[yte]})


def digits_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    xtr, xte, ytr, yte = train_test_split(data.data, data.target, test_size=360,
                                          stratify=data.target, random_state=0)
    one_hot = np.eye(10)
    return ({"x": xtr / 16.0, "y": one_hot[ytr]}, {"x": xte / 16.0, "y": one_hot[yte]})


def make_all(folder: str = os.path.join(HERE, "data")):
    os.makedirs(folder, exist_ok=True)
    save_npz(os.path.join(folder, "xor.npz"), xor_data())
    for name in TEACHERS:
        d = teacher_data(name)
        save_npz(os.path.join(folder, f"{name}_train.npz"), {k: v[:192] for k, v in d.items()})
        save_npz(os.path.join(folder, f"{name}_test.npz"), {k: v[192:] for k, v in d.items()})
    for name, make in (("iris", iris_data), ("digits", digits_data)):
        try:
            train, test = make()
        except ImportError:
            print(f"scikit-learn is not installed: {name} left as it is "
                  f"(pip install scikit-learn)")
            continue
        save_npz(os.path.join(folder, f"{name}_train.npz"), train)
        save_npz(os.path.join(folder, f"{name}_test.npz"), test)
    print(f"datasets written to {folder}")


if __name__ == "__main__":
    make_all()
