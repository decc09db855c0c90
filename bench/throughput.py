"""(a) Training throughput: the hardware's samples/s at the Fmax synthesis reached, against
per-sample SGD of the same net on this CPU, measured in the same run and printed as ratios.

    .venv/bin/python bench/throughput.py [--seconds 2] [--synth docs/synth.json]

Hardware rows come from the synthesis reports (``bench/synth.py --reports --json``; the
committed ``docs/synth.json`` by default): cycles per training sample (the controller's,
checked in simulation by ``bench/cycles.py``) and samples/s = Fmax / cycles. A streaming row
is added for each fully parallel build: in streaming mode the same network takes one new
sample every tick (``cycles_per_step`` of the streaming graph's Design), at the same Fmax assumed
(not synthesised; marked so).

CPU rows are per-sample SGD of the same dense net (the same activations, one sample per
update, like the hardware), timed for ``--seconds`` each:

* ``numpy``: a tight loop (forward, backward, update) on float64 NumPy arrays;
* ``torch``: ``nn.Sequential`` of ``nn.Linear`` layers, ``loss.backward()`` and
  ``optim.SGD.step()`` per sample, float32, on the CPU with its default threads; only when
  PyTorch is installed (``pip install torch``; here ``torch==2.13.0``, a CPU build).

The CPU measurement repeats for every row's network in the same run, so ratios compare
figures taken minutes apart on one machine, not across machines.
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from pcfpga.examples import example_path
from pcfpga.golden.graph import Graph
from pcfpga.hdl.design import Design

ACT = {"tanh": (np.tanh, lambda a, v: 1 - v * v),
       "sigmoid": (lambda a: 1 / (1 + np.exp(-a)), lambda a, v: v * (1 - v)),
       "identity": (lambda a: a, lambda a, v: np.ones_like(a))}


def layers(graph):
    """(fan-in, size, act) of each dense node of a chain net; ValueError otherwise."""
    out = []
    for n in graph.nodes:
        if n.op == "input":
            continue
        if n.op != "dense" or len(n.inputs) != 1:
            raise ValueError(f"{graph.name}: not a chain of dense layers ({n.name})")
        if n.act not in ACT:
            raise ValueError(f"{graph.name}: node {n.name} has activation {n.act!r}; the "
                             f"CPU baselines have {', '.join(ACT)}")
        fan_in = graph.node(n.inputs[0]).size
        out.append((fan_in, n.size, n.act))
    return out


def sgd_step(Ws, bs, acts, x, y, eta):
    """One per-sample SGD step of backprop on L = ½‖v_out − y‖², in place."""
    v, vs, As = x, [x], []
    for W, b, (f, _) in zip(Ws, bs, acts):
        a = W @ v + b
        v = f(a)
        As.append(a)
        vs.append(v)
    delta = (v - y) * acts[-1][1](As[-1], v)
    for j in range(len(Ws) - 1, -1, -1):
        prev = (Ws[j].T @ delta) * acts[j - 1][1](As[j - 1], vs[j]) if j else None
        Ws[j] -= eta * np.outer(delta, vs[j])
        bs[j] -= eta * delta
        delta = prev


def numpy_sgd(graph, seconds: float, eta: float) -> float:
    """Samples/s of per-sample SGD backprop in NumPy (:func:`sgd_step` in a loop)."""
    rng = np.random.default_rng(0)
    ls = layers(graph)
    Ws = [rng.normal(0, 0.3, (o, i)) for i, o, _ in ls]
    bs = [np.zeros(o) for _, o, _ in ls]
    acts = [ACT[a] for _, _, a in ls]
    X = rng.uniform(-1, 1, (256, ls[0][0]))
    Y = rng.uniform(0, 1, (256, ls[-1][1]))
    count, t0 = 0, time.perf_counter()
    while True:
        for k in range(256):
            sgd_step(Ws, bs, acts, X[k], Y[k], eta)
        count += 256
        if time.perf_counter() - t0 >= seconds:
            return count / (time.perf_counter() - t0)


def torch_sgd(graph, seconds: float, eta: float):
    """Samples/s of per-sample SGD in PyTorch (CPU), or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    mods = []
    for i, o, a in layers(graph):
        mods.append(torch.nn.Linear(i, o))
        if a == "tanh":
            mods.append(torch.nn.Tanh())
        elif a == "sigmoid":
            mods.append(torch.nn.Sigmoid())
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.SGD(net.parameters(), lr=eta)
    g = torch.Generator().manual_seed(0)
    X = torch.rand((256, layers(graph)[0][0]), generator=g) * 2 - 1
    Y = torch.rand((256, layers(graph)[-1][1]), generator=g)
    count, t0 = 0, time.perf_counter()
    while True:
        for k in range(256):
            opt.zero_grad()
            loss = 0.5 * ((net(X[k]) - Y[k]) ** 2).sum()
            loss.backward()
            opt.step()
        count += 256
        if time.perf_counter() - t0 >= seconds:
            return count / (time.perf_counter() - t0)


def hardware_rows(reports):
    """(network, board, architecture, cycles/sample, Fmax MHz, samples/s, note) rows."""
    rows = []
    for r in sorted(reports, key=lambda r: (r["network"], r["board"])):
        arch = r["architecture"].split(" (")[0]
        rows.append((r["network"], r["board"], arch, r["cycles_per_sample"], r["fmax_mhz"],
                     r["samples_per_s_at_fmax"], "synthesised"))
        reuse = r.get("reuse")
        if reuse == 1 or (isinstance(reuse, dict) and set(reuse.values()) == {1}):
            g = Graph.from_toml(str(example_path(r["network"]))).with_settings(
                mode="streaming")
            c = Design.build(g).cycles_per_step
            rows.append((r["network"], r["board"], arch + ", streaming", c, r["fmax_mhz"],
                         r["fmax_mhz"] * 1e6 / c, "Fmax of the exact build"))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="CPU timing per net")
    ap.add_argument("--synth", default=os.path.join("docs", "synth.json"),
                    help="synthesis reports (bench/synth.py --reports --json)")
    args = ap.parse_args(argv)
    with open(args.synth) as f:
        reports = json.load(f)
    cpu = {}
    for name in sorted({r["network"] for r in reports}):
        g = Graph.from_toml(str(example_path(name)))
        eta = g.learning.eta_theta
        cpu[name] = (numpy_sgd(g, args.seconds, eta), torch_sgd(g, args.seconds, eta))
        print(f"  {name}: CPU measured", file=sys.stderr, flush=True)
    try:
        import torch
        tv = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        tv = "torch not installed"
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"numpy {np.__version__}, {tv}; hardware from {args.synth}")
    head = ("network", "board", "architecture", "cyc/sample", "Fmax MHz", "hw samples/s",
            "numpy samples/s", "hw/numpy", "torch samples/s", "hw/torch", "note")
    rows = [head]
    for net, board, arch, cyc, fmax, sps, note in hardware_rows(reports):
        npy, tch = cpu[net]
        rows.append((net, board, arch, str(cyc), f"{fmax:.1f}", f"{sps:,.0f}", f"{npy:,.0f}",
                     f"{sps / npy:.1f}x", f"{tch:,.0f}" if tch else "-",
                     f"{sps / tch:.1f}x" if tch else "-", note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main()
