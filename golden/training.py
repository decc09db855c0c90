"""Training loops and metrics shared by every backend (float PC, fixed PC, backprop).

A *model* has ``to_model(params)``, ``to_float(params)``, ``step(params, x, y)``,
``predict(params, x)``, ``reset()`` and ``drain(params)``, and may have
``run_epoch(params, samples, progress)`` to take a whole epoch at once (the simulation
backend, :class:`pcfpga.sim.training.SimulatedPC`); :func:`train` runs per-sample SGD epochs over a
dataset in a seeded order and evaluates after each epoch:

* loss = mean over samples of ½ Σ_outputs ‖y − ŷ‖² (the spec's L);
* accuracy, for classifiers only. A dataset is a classification set when every target is
  0 or 1. One output column: correct when ``(ŷ > 0.5) == y``; several (one-hot): when
  ``argmax ŷ == argmax y``.

In streaming mode the shuffled epochs form one continuous stream, one sample per tick
(:meth:`reset` once before training; the pipeline drains after the last epoch, so the
final evaluation sees every sample's update).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["train", "evaluate", "is_classification", "History", "sample", "TrainingDiverged",
           "diverged", "check_finite"]


class TrainingDiverged(ArithmeticError):
    """The loss became infinite or NaN (float models; fixed point saturates instead)."""


@dataclass
class History:
    """Per-epoch metrics; epoch 0 is before training. ``nan`` where not applicable."""

    epochs: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)

    def as_arrays(self) -> dict:
        return {k: np.asarray(getattr(self, k), dtype=np.float64)
                for k in ("epochs", "train_loss", "train_acc", "test_loss", "test_acc")}


def sample(data: dict, i: int) -> dict:
    """Row ``i`` of every array of a dataset dict."""
    return {k: v[i] for k, v in data.items()}


def is_classification(y: dict) -> bool:
    return all(np.all((v == 0) | (v == 1)) for v in y.values())


def evaluate(model, params, x: dict, y: dict):
    """(loss, accuracy or nan) of model parameters on a dataset (batched forward sweep)."""
    pred = model.predict(params, x)
    loss = float(np.mean(sum(0.5 * np.sum((y[k] - pred[k]) ** 2, axis=-1) for k in y)))
    if not is_classification(y):
        return loss, float("nan")
    t = np.concatenate([y[k] for k in sorted(y)], axis=-1)
    p = np.concatenate([pred[k] for k in sorted(y)], axis=-1)
    if t.shape[-1] == 1:
        correct = (p[:, 0] > 0.5) == (t[:, 0] > 0.5)
    else:
        correct = np.argmax(p, -1) == np.argmax(t, -1)
    return loss, float(np.mean(correct))


def _fmt(v) -> str:
    return "-" if np.isnan(v) else f"{v:.5f}"


def train(model, params, train_set, test_set=None, epochs: int = 10, seed: int = 0,
          log=print, progress=None):
    """Train ``model`` from float ``params``; returns (float params, History).

    ``train_set`` and ``test_set`` are ``(x, y, n)`` tuples from
    :func:`~.params.load_dataset`. ``log`` receives one line per epoch; ``progress``
    (default: a bar on stderr when it is a terminal) is called as ``progress(done, total)``.
    A loss that is not finite raises :class:`TrainingDiverged` (:func:`diverged`); NumPy's
    floating-point warnings are silenced, so that this one message is all the user sees.
    """
    if progress is None:
        progress = _bar if sys.stderr.isatty() else (lambda done, total: None)
    rng = np.random.default_rng(seed)
    x, y, n = train_set
    mp = model.to_model(params)
    hist = History()
    model.reset()

    def record(epoch, seconds):
        progress(-1, total)
        tl, ta = evaluate(model, mp, x, y)
        el, ea = evaluate(model, mp, *test_set[:2]) if test_set else (float("nan"),) * 2
        hist.epochs.append(epoch)
        hist.train_loss.append(tl)
        hist.train_acc.append(ta)
        hist.test_loss.append(el)
        hist.test_acc.append(ea)
        log(f"epoch {epoch:4d}  train loss {_fmt(tl)}  acc {_fmt(ta)}  "
            f"test loss {_fmt(el)}  acc {_fmt(ea)}  ({seconds:.2f} s)")
        if not np.isfinite(tl):
            raise diverged(f"at epoch {epoch} (train loss {tl})", epoch == 0)

    total = epochs * n
    with np.errstate(all="ignore"):
        record(0, 0.0)
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            order = rng.permutation(n)
            if hasattr(model, "run_epoch"):  # a simulator runs the epoch in batches
                mp = model.run_epoch(mp, [(sample(x, i), sample(y, i)) for i in order],
                                     progress=lambda j, e=epoch: progress((e - 1) * n + j, total))
            else:
                for j, i in enumerate(order):
                    mp, _ = model.step(mp, sample(x, i), sample(y, i))
                    progress((epoch - 1) * n + j + 1, total)
            if epoch == epochs:
                mp = model.drain(mp)
            record(epoch, time.perf_counter() - start)
    return model.to_float(mp), hist


def diverged(where: str, data_fault: bool) -> TrainingDiverged:
    """The error for a float run whose numbers stopped being finite ``where``. When that
    happens from the initial parameters (the first step, or the loss before training), no
    learning rate is to blame: the data is too large for the float model. Otherwise the
    learning rates are the likely cause."""
    if data_fault:
        return TrainingDiverged(f"the float model overflows {where}, from the initial "
                                f"parameters: the data is too large for it; scale the "
                                f"inputs and targets")
    return TrainingDiverged(f"training diverged {where}; try a smaller learning.eta_theta "
                            f"or eta_v")


def check_finite(trace: dict, params: dict, step: int):
    """Raise :func:`diverged` when a float step's ``trace`` (its registers) or the
    ``params`` after it hold a value that is not finite (``step`` counts from 0; in step
    0 it is the data's fault)."""
    bad = next((k for arrays in (trace, params) for k, v in arrays.items()
                if not np.all(np.isfinite(v))), None)
    if bad is not None:
        raise diverged(f"at step {step + 1} ({bad} is not finite)", step == 0)


def _bar(done: int, total: int):
    """A one-line progress bar on stderr; ``done < 0`` clears it (before a log line)."""
    if done < 0:
        sys.stderr.write("\r\033[K")
    else:
        width = 40
        fill = int(width * done / max(total, 1))
        sys.stderr.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {done}/{total} samples")
    sys.stderr.flush()
