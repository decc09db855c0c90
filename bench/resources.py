"""(b) Resources per edge of a fully parallel dense network, and the largest fully parallel
dense network that fits the iCE40UP5K and the ECP5-85F.

    .venv/bin/python bench/resources.py

Networks: two dense layers i -> h -> o (tanh hidden, sigmoid output, biases, Q4.12 values
and weights, Q2.14 errors, exact mode, as the examples), every edge fully parallel
(reuse 1). "Edges" counts weights, i·h + h·o; "units" the non-input neurons, h + o.

1. Measured: each sweep net's network core (no SoC) is synthesised with Yosys
   (``synth_ice40 -dsp`` / ``synth_ecp5``, :func:`pcfpga.boards.cells.core_stats`) and a
   least-squares fit  cells ≈ a·edges + b·units + c  gives the cost per edge (a) and per
   unit (b) of LUT4s and flip-flops. DSPs need no fit: they must equal the architecture's
   multiplier count 2·i·h + 3·h·o + h + o (:func:`pcfpga.hdl.fit.count_multipliers`), and
   the table says whether they do.
2. Largest: among i, h, o in 1..64 the net with the most edges that the fitter accepts fully
   parallel (:func:`pcfpga.hdl.fit.shortfalls`: DSPs, with ECP5 kept to 80 % for routing;
   flip-flops; RAM) and whose LUTs by the fit stay within 75 % of the device; also the
   largest square net n -> n -> n. The largest is then synthesised to show its real counts.
   Neither is placed and routed here (``pcfpga synth`` does that for a whole SoC).
"""

import sys
import time

import numpy as np

from pcfpga.boards.devices import DEVICES
from pcfpga.boards.cells import core_stats
from pcfpga.golden.graph import GraphBuilder
from pcfpga.hdl.fit import count_multipliers, estimate, shortfalls

SWEEP = ((1, 1, 1), (2, 2, 1), (2, 3, 2), (3, 4, 2), (4, 4, 3))
FAMILIES = {"ice40": "iCE40UP5K", "ecp5": "ECP5-85F"}
LUT_SHARE = 0.75


def dense_net(i: int, h: int, o: int):
    return (GraphBuilder(f"dense_{i}_{h}_{o}")
            .format(value="Q4.12", error="Q2.14", weight="Q4.12", rounding="nearest")
            .learning(mode="exact", eta_v=1.0, eta_theta=0.0625)
            .input("x", i).dense("h", ["x"], h, act="tanh", bias=True)
            .dense("y", ["h"], o, act="sigmoid", bias=True, output=True).build())


def shape(i, h, o):
    return i * h + h * o, h + o


def multipliers(i, h, o) -> int:
    """Fully parallel: forward product and weight update per weight, the error message
    back per weight from a hidden neuron, δ = ε ⊙ f'(a) per neuron."""
    return 2 * i * h + 3 * h * o + h + o


def fit_costs(rows):
    """Least squares cells ≈ a·edges + b·units + c for each column of ``rows``."""
    A = np.array([[*shape(*net), 1] for net, _ in rows], dtype=float)
    out = {}
    for col in ("lut", "ff"):
        y = np.array([stats[col] for _, stats in rows], dtype=float)
        coef = np.linalg.lstsq(A, y, rcond=None)[0]
        out[col] = (coef, float(np.max(np.abs(A @ coef - y))))
    return out


def largest(family, costs):
    """(most edges net, largest square n) that fit; each a (i, h, o) tuple."""
    dev = DEVICES[FAMILIES[family]]

    def fits(net):
        g = dense_net(*net)
        lut = costs["lut"] @ [*shape(*net), 1]
        return not shortfalls(estimate(g), dev) and lut <= LUT_SHARE * dev.lut

    square = None
    for n in range(1, 65):
        if not fits((n, n, n)):
            break
        square = (n, n, n)
    best = None
    for i in range(1, 65):          # resources grow with each of i, h, o
        if not fits((i, 1, 1)):
            break
        for h in range(1, 65):
            if not fits((i, h, 1)):
                break
            o = 1
            while o < 64 and fits((i, h, o + 1)):
                o += 1
            if best is None or shape(i, h, o)[0] > shape(*best)[0]:
                best = (i, h, o)
    return best, square


def main():
    print("fully parallel dense nets i-h-o (tanh hidden, sigmoid output, Q4.12 / Q2.14); "
          "edges = i*h + h*o weights, units = h + o neurons")
    for family, device in FAMILIES.items():
        dev = DEVICES[device]
        rows = []
        print(f"\n{device} ({dev.dsp} DSPs, {dev.lut:,} LUTs): sweep synthesised with Yosys")
        head = ("net", "edges", "units", "multipliers", "DSP", "LUT4", "FF", "yosys s")
        table = [head]
        for net in SWEEP:
            g = dense_net(*net)
            st = core_stats(g, family)
            rows.append((net, st))
            e, u = shape(*net)
            table.append(("-".join(map(str, net)), str(e), str(u),
                          str(count_multipliers(g)), str(st["dsp"]), f"{st['lut']:,}",
                          f"{st['ff']:,}", f"{st['seconds']:.0f}"))
            print(f"  {'-'.join(map(str, net))} synthesised", file=sys.stderr, flush=True)
        _print(table)
        same = all(st["dsp"] == count_multipliers(dense_net(*net)) == multipliers(*net)
                   for net, st in rows)
        print(f"DSPs equal the architecture's multipliers, 2*i*h + 3*h*o + h + o, on every "
              f"net: {'yes' if same else 'NO'}")
        costs = fit_costs(rows)
        print("fit  cells = a * edges + b * units + c:")
        _print([("cells", "a (per edge)", "b (per unit)", "c", "largest residual")] +
               [(col, f"{coef[0]:.1f}", f"{coef[1]:.1f}", f"{coef[2]:.0f}", f"{res:.0f}")
                for col, (coef, res) in costs.items()])
        costs = {col: coef for col, (coef, _) in costs.items()}
        t = time.perf_counter()
        best, square = largest(family, costs)
        print(f"largest fully parallel dense nets that fit (fitter budgets, LUTs by the fit "
              f"<= {LUT_SHARE:.0%}):")
        table = [("kind", "net", "edges", "multipliers", "DSP", "LUT4", "FF", "LUT by fit")]
        for kind, net in (("most edges", best), ("square n-n-n", square)):
            if net is None:
                table.append((kind, "none", "-", "-", "-", "-", "-", "-"))
                continue
            g = dense_net(*net)
            st = core_stats(g, family)
            table.append((kind, "-".join(map(str, net)), str(shape(*net)[0]),
                          str(count_multipliers(g)), f"{st['dsp']}/{dev.dsp}",
                          f"{st['lut']:,}/{dev.lut:,}", f"{st['ff']:,}",
                          f"{costs['lut'] @ [*shape(*net), 1]:,.0f}"))
        _print(table)
        print(f"  (search and synthesis {time.perf_counter() - t:.0f} s)")


def _print(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main()
