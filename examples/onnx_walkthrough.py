"""The README's ONNX walkthrough (issue 20): an Iris network defined and pre-trained in
PyTorch, exported to ONNX; and any exported model evaluated in onnxruntime.

    python -m pcfpga.examples.onnx_walkthrough pretrain OUT.onnx    # needs torch
    python -m pcfpga.examples.onnx_walkthrough evaluate MODEL.onnx  # needs onnxruntime

``pretrain``: ``nn.Sequential(Linear(4, 8), Tanh(), Linear(8, 3), Sigmoid())``, seeded,
trained by per-sample SGD (learning rate :data:`LR`, :data:`EPOCHS` epochs, seeded order)
on the loss ½ ‖y − ŷ‖² (pcfpga's), on ``examples/data/iris_train.npz``; then exported with
``torch.onnx.export`` (input ``x``, output ``y``: the dataset's keys, so pcfpga's commands
read it as it is). ``evaluate``: loss and accuracy on both Iris sets, as ``pcfpga train``
reports them. Between the two, the README imports the model, trains it further on the
simulated board and exports it back.
"""

from __future__ import annotations

import argparse
import io
import warnings

import numpy as np

from . import split_paths

__all__ = ["pretrain", "evaluate", "SEED", "LR", "EPOCHS", "main"]

SEED = 0
LR = 0.05
EPOCHS = 3


def _iris(which: int) -> tuple:
    with np.load(split_paths("iris")[which]) as z:
        return z["x"].astype(np.float32), z["y"].astype(np.float32)


def _metrics(pred: np.ndarray, y: np.ndarray) -> tuple:
    """(loss, accuracy): mean ½ ‖y − ŷ‖², argmax agreement."""
    loss = float(np.mean(0.5 * np.sum((y - pred) ** 2, axis=1)))
    return loss, float(np.mean(np.argmax(pred, 1) == np.argmax(y, 1)))


def pretrain(out: str):
    """Define, pre-train and export the PyTorch model to ``out``."""
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3), nn.Sigmoid())
    x, y = (torch.from_numpy(a) for a in _iris(0))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    order = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        for i in torch.randperm(len(x), generator=order):
            opt.zero_grad()
            (0.5 * ((y[i] - model(x[i : i + 1])[0]) ** 2).sum()).backward()
            opt.step()
    with torch.no_grad():
        for name, (xs, ys) in (("train", (x, y)), ("test", _iris(1))):
            loss, acc = _metrics(model(torch.as_tensor(xs)).numpy(), np.asarray(ys))
            print(f"PyTorch, {EPOCHS} epochs: {name} loss {loss:.5f}  acc {acc:.5f}")
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (x[:1],), f, dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    with open(out, "wb") as fh:
        fh.write(f.getvalue())
    print(f"wrote {out}")


def evaluate(model_path: str):
    """Loss and accuracy of the ONNX model at ``model_path`` on both Iris sets."""
    import onnxruntime as ort

    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    dtype = np.float64 if "double" in session.get_inputs()[0].type else np.float32
    for name, which in (("train", 0), ("test", 1)):
        x, y = _iris(which)
        (pred,) = session.run(["y"], {"x": x.astype(dtype)})
        loss, acc = _metrics(pred, y)
        print(f"onnxruntime, {model_path}: {name} loss {loss:.5f}  acc {acc:.5f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=("pretrain", "evaluate"))
    p.add_argument("model", help="the .onnx file to write (pretrain) or read (evaluate)")
    args = p.parse_args(argv)
    (pretrain if args.step == "pretrain" else evaluate)(args.model)


if __name__ == "__main__":
    main()
