"""PyTorch models for the ONNX import tests (issue 20), and the script that writes their
checked-in fixtures with ``torch.onnx.export``.

Two models written by a framework, not by pcfpga:

* :func:`sequential`: an ``nn.Sequential`` (Flatten, Linear, Tanh, Linear, LeakyReLU of
  slope 1/64, Linear without bias, Sigmoid), 4 -> 8 -> 6 -> 3;
* :func:`skip_gate`: a module with a skip connection and a gate, the bundled ``dag``
  example's shape: ``h1 = tanh(L1 x)``, ``h2 = hardtanh(L2 h1)`` (no bias),
  ``s = h1 + h2``, ``g = sigmoid(G x)``, ``y = Lout (s ⊙ g)``.

For each, ``python tests/onnx_models.py`` (PyTorch installed: ``make test-slow`` installs
it) writes into ``tests/data/onnx/``:

* ``NAME.onnx``: the float32 model as PyTorch exports it (the legacy TorchScript exporter,
  ``dynamo=False``, which needs no onnxscript; opset :data:`OPSET`);
* ``NAME_step.onnx``: the same model in float64 after one SGD step of ``torch.autograd``
  on one sample, θ ← θ − η ∂L/∂θ with L = ½ ‖y − ŷ‖² (the spec's loss), exported the same
  way;
* ``NAME_step.npz``: that sample (``x``, ``y``), η (``eta``), a batch ``X`` and PyTorch's
  float64 forward pass on it (``forward``).

The default suite imports these files without PyTorch; the slow test exports the models
anew and checks the same things against ``torch.autograd`` itself. Everything is seeded
(:data:`SEED`).
"""

import io
import os
import warnings

import numpy as np

__all__ = ["MODELS", "OPSET", "SEED", "ETA", "FIXTURES", "sequential", "skip_gate",
           "export", "sgd_step", "forward", "write_fixtures"]

#: The opset the fixtures are exported with.
OPSET = 17
SEED = 20
#: The learning rate of the SGD step (a power of two, as pcfpga's eta_theta must be).
ETA = 0.0625
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "onnx")


def sequential():
    """The ``nn.Sequential`` model, float32, seeded; (model, input size)."""
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 6),
                          nn.LeakyReLU(1 / 64), nn.Linear(6, 3, bias=False), nn.Sigmoid())
    return model, 4


def skip_gate():
    """The module with a skip connection and a gate, float32, seeded; (model, input
    size)."""
    import torch
    from torch import nn

    class SkipGate(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(3, 6)
            self.l2 = nn.Linear(6, 6, bias=False)
            self.gate = nn.Linear(3, 6)
            self.out = nn.Linear(6, 2)

        def forward(self, x):
            h1 = torch.tanh(self.l1(x))
            h2 = nn.functional.hardtanh(self.l2(h1))
            g = torch.sigmoid(self.gate(x))
            return self.out((h1 + h2) * g)

    torch.manual_seed(SEED + 1)
    return SkipGate(), 3


MODELS = {"sequential": sequential, "skip_gate": skip_gate}


def export(model, size: int, dynamo: bool = False) -> bytes:
    """``model`` as ONNX bytes written by ``torch.onnx.export``: input ``x`` and output
    ``y``, both ``[N, size]`` with N free, in the model's own dtype. ``dynamo``: the
    torch.export-based exporter (PyTorch's default since 2.9; it needs onnxscript) instead
    of the legacy TorchScript one."""
    import torch

    model.eval()                        # as one exports for inference (no dropout here)
    x = (torch.zeros(2, size, dtype=next(model.parameters()).dtype),)
    if dynamo:
        program = torch.onnx.export(model, x, dynamo=True, opset_version=OPSET,
                                    input_names=["x"], output_names=["y"],
                                    dynamic_shapes=({0: torch.export.Dim("N")},),
                                    verbose=False)
        return program.model_proto.SerializeToString()
    f = io.BytesIO()
    with warnings.catch_warnings():     # that the legacy exporter is not the default one
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, x, f, dynamo=False, opset_version=OPSET, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    return f.getvalue()


def sample(size: int, n_out: int, rows: int = 1, seed: int = SEED) -> tuple:
    """Seeded float64 inputs (rows x size) and targets in (0, 1) (rows x n_out)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (rows, size)), rng.uniform(0.1, 0.9, (rows, n_out))


def forward(model, x: np.ndarray) -> np.ndarray:
    """The float64 copy of ``model`` on ``x``."""
    import copy

    import torch

    m = copy.deepcopy(model).double()
    with torch.no_grad():
        return m(torch.from_numpy(x)).numpy()


def sgd_step(model, x: np.ndarray, y: np.ndarray, eta: float = ETA):
    """A float64 copy of ``model`` after one step θ ← θ − η ∂L/∂θ of ``torch.autograd``,
    L = ½ ‖y − model(x)‖²."""
    import copy

    import torch

    m = copy.deepcopy(model).double()
    loss = 0.5 * ((torch.from_numpy(y) - m(torch.from_numpy(x))) ** 2).sum()
    loss.backward()
    with torch.no_grad():
        for p in m.parameters():
            p -= eta * p.grad
    return m


def write_fixtures(folder: str = FIXTURES):
    """Write every model's three fixture files into ``folder``."""
    os.makedirs(folder, exist_ok=True)
    for name, make in MODELS.items():
        model, size = make()
        n_out = forward(model, np.zeros((1, size))).shape[1]
        x, y = sample(size, n_out)
        X, _ = sample(size, n_out, rows=16, seed=SEED + 1)
        with open(os.path.join(folder, f"{name}.onnx"), "wb") as f:
            f.write(export(model, size))
        with open(os.path.join(folder, f"{name}_step.onnx"), "wb") as f:
            f.write(export(sgd_step(model, x, y), size))
        np.savez(os.path.join(folder, f"{name}_step.npz"), x=x, y=y, eta=ETA, X=X,
                 forward=forward(model, X))
        print(f"wrote {name}.onnx, {name}_step.onnx, {name}_step.npz in {folder}")


if __name__ == "__main__":
    write_fixtures()
