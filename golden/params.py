"""Parameters and datasets: named NumPy arrays in ``.npz`` files.

Parameters are ``"{node}.W.{parent}"`` (size_node × size_parent) and ``"{node}.b"``
(size_node), as float64 (fixed-point parameters are stored as their exact real values).
:func:`init_params` draws them deterministically from a seed: Glorot-uniform weights,
``W ~ U(-r, r)`` with ``r = sqrt(6 / (fan_in + size))`` where fan_in sums every parent's
size, and zero biases.

A dataset is an ``.npz`` whose keys are the graph's input and output node names, each an
``N × size`` array with the same N.

Writes go through a temporary file and a rename, so a failed run leaves nothing
half-written.
"""

from __future__ import annotations

import os
import tempfile
import zipfile

import numpy as np

__all__ = ["init_params", "load_params", "save_npz", "load_dataset", "check_params",
           "DataError", "atomic_write"]


class DataError(ValueError):
    """A parameter or dataset file that does not fit the graph."""


def init_params(graph, seed: int = 0) -> dict:
    """Deterministic initial parameters for ``graph`` from ``seed``."""
    rng = np.random.default_rng(seed)
    params = {}
    for n in graph.nodes:
        if n.op != "dense":
            continue
        fan_in = sum(graph.node(p).size for p in n.inputs)
        r = np.sqrt(6.0 / (fan_in + n.size))
        for p in n.inputs:
            params[f"{n.name}.W.{p}"] = rng.uniform(-r, r, (n.size, graph.node(p).size))
        if n.bias:
            params[f"{n.name}.b"] = np.zeros(n.size)
    return params


def check_params(graph, params: dict, where: str = "parameters") -> dict:
    """Check names and shapes against the graph; return float64 copies in graph order."""
    shapes = graph.param_shapes
    missing = [k for k in shapes if k not in params]
    if missing:
        raise DataError(f"{where}: missing {', '.join(missing)} (the graph needs "
                        f"{', '.join(shapes)})")
    extra = [k for k in params if k not in shapes]
    if extra:
        raise DataError(f"{where}: unexpected {', '.join(extra)} (the graph needs "
                        f"{', '.join(shapes)})")
    out = {}
    for k, shape in shapes.items():
        a = np.asarray(params[k])
        if a.shape != shape:
            raise DataError(f"{where}: {k} has shape {a.shape}, expected {shape}")
        if not np.issubdtype(a.dtype, np.number) or not np.all(np.isfinite(a)):
            raise DataError(f"{where}: {k} must hold finite numbers")
        out[k] = a.astype(np.float64)
    return out


def _load_npz(path, what: str) -> dict:
    try:
        z = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a .npz {what} file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable .npz {what} file ({e})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: a single array (.npy), not a .npz {what} file of named "
                        f"arrays")
    try:
        with z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable .npz {what} file ({e})") from None


def load_params(path, graph) -> dict:
    """Read and check a parameter file for ``graph``."""
    data = _load_npz(path, "parameter")
    shapes = graph.param_shapes     # trace arrays (pcfpga golden's output) are skipped
    return check_params(graph, {k: v for k, v in data.items()
                                if k in shapes or not k.startswith("trace.")}, str(path))


def load_dataset(path, graph) -> tuple:
    """Read a dataset: ``(x, y, n)``, dicts of float64 arrays of inputs and targets."""
    data = _load_npz(path, "dataset")
    x, y, n = {}, {}, None
    for node in graph.inputs + graph.outputs:
        if node.name not in data:
            raise DataError(f"{path}: no array {node.name!r}; a dataset for {graph.name} "
                            f"needs {', '.join(m.name for m in graph.inputs + graph.outputs)}")
        a = np.asarray(data[node.name])
        if a.ndim == 1 and node.size == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[1] != node.size:
            raise DataError(f"{path}: {node.name!r} has shape {a.shape}, expected "
                            f"(N, {node.size})")
        if not np.issubdtype(a.dtype, np.number) or not np.all(np.isfinite(a)):
            raise DataError(f"{path}: {node.name!r} must hold finite numbers")
        if n is not None and a.shape[0] != n:
            raise DataError(f"{path}: {node.name!r} has {a.shape[0]} rows, the others {n}")
        n = a.shape[0]
        (x if node.op == "input" else y)[node.name] = a.astype(np.float64)
    if n == 0:
        raise DataError(f"{path}: the dataset is empty")
    return x, y, n


def atomic_write(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to ``path``;
    on any failure nothing is left behind."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=os.path.splitext(path)[1], dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_npz(path, arrays: dict):
    """Write arrays to an ``.npz`` atomically (compressed)."""
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))
