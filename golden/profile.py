"""Value and error ranges against the fixed-point formats, as hls4ml's profiling does.

The float model is run on training samples and every register it writes is collected: the
forward sweep and every inference tick, for every node. Each register belongs to a quantity
class with its own format (spec §5):

    values   V     v, a, v̂
    gains    Q2.n  g = f'(a), with the value format's fraction bits n (the hardware's
                   gain registers; |f'| <= 1 for every table activation)
    errors   E     ε, δ = ε ⊙ f'(a)
    weights  W     every parameter

For one row (a node's register, or a parameter) over all collected entries x:

    max |x|       the largest magnitude seen
    clipped       fraction of entries with x < Q.min or x > Q.max: the fixed-point register
                  saturates there (and sets the node's sticky flag)
    underflow     fraction of the non-zero entries with |x| < Q.lsb / 2: they round to 0
                  (nearest) and carry no information in fixed point

:func:`plot_ranges` draws log2 |x| per row as a box plot beside the format's representable
span [log2 lsb, log2 max], clipped rows in red, as hls4ml's ``numerical`` profile does for
its layer types.

>>> from .graph import GraphBuilder
>>> g = (GraphBuilder("t").input("x", 1).dense("y", ["x"], 1, act="identity", output=True)
...      .build())
>>> p = profile_ranges(g, [{"y.W.x": np.array([[20.0]])}], {"x": np.ones((2, 1))},
...                    {"y": np.zeros((2, 1))})
>>> r = p.row("y.vhat"); (r.fmt, r.max_abs, r.clipped)     # 20 > Q4.12's max 7.9998
('Q4.12', 20.0, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .float_model import FloatPC

__all__ = ["Row", "Profile", "profile_ranges", "plot_ranges", "FORMAT_OF"]

#: The format class of each register (spec §5).
FORMAT_OF = {"v": "value", "a": "value", "vhat": "value", "g": "gain",
             "eps": "error", "delta": "error"}


@dataclass
class Row:
    """One register (``node.reg``) or parameter and its entries over the profile."""

    name: str
    fmt: str          # e.g. "Q4.12"
    lo: float         # format's most negative value
    hi: float         # and most positive
    lsb: float
    values: np.ndarray

    @property
    def max_abs(self) -> float:
        return float(np.max(np.abs(self.values))) if self.values.size else 0.0

    @property
    def clipped(self) -> float:
        """Fraction of entries outside [lo, hi]."""
        v = self.values
        return float(np.mean((v < self.lo) | (v > self.hi))) if v.size else 0.0

    @property
    def underflow(self) -> float:
        """Fraction of the non-zero entries below half an lsb in magnitude."""
        nz = self.values[self.values != 0]
        return float(np.mean(np.abs(nz) < self.lsb / 2)) if nz.size else 0.0


@dataclass
class Profile:
    """Rows in graph order: each node's registers, then the parameters."""

    rows: list

    def row(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no profile row {name!r}; rows are {', '.join(self.names())}")

    def names(self) -> list:
        return [r.name for r in self.rows]

    def clipping(self) -> list:
        """Names of the rows with clipped entries."""
        return [r.name for r in self.rows if r.clipped > 0]

    def table(self) -> list:
        """Rows of strings: name, format, max |x|, clipped %, underflow %."""
        out = [("register", "format", "max |x|", "format max", "clipped", "below lsb/2")]
        for r in self.rows:
            out.append((r.name, r.fmt, f"{r.max_abs:.4g}", f"{r.hi:.4g}",
                        f"{100 * r.clipped:.2f}%" + (" CLIP" if r.clipped else ""),
                        f"{100 * r.underflow:.1f}%"))
        return out


def profile_ranges(graph, param_sets, x: dict, y: dict, samples: int = 64) -> Profile:
    """Run float training steps (one per sample, parameters not carried over) with each
    parameter set of ``param_sets`` (e.g. the initial and the trained ones) on the first
    ``samples`` rows of ``(x, y)`` and collect every register at every tick.

    The parameters are profiled too: every parameter set's values.
    """
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"Samples must be a positive integer, not {samples!r}")
    n = min(samples, len(next(iter(x.values()))))
    model = FloatPC(graph)
    collected: dict = {}
    for params in param_sets:
        model.reset()
        for i in range(n):
            _, trace = model.step(params, {k: v[i] for k, v in x.items()},
                                  {k: v[i] for k, v in y.items()})
            for key, val in trace.items():
                reg = key.split(".")[-1]
                if reg in FORMAT_OF:
                    collected.setdefault(key, []).append(np.ravel(val))
    f = graph.formats
    fmts = {"value": f.value, "error": f.error, "weight": f.weight,
            "gain": f.gain}
    rows = []
    for node in graph.nodes:
        for key in [k for k in collected if k.split(".")[0] == node.name]:
            q = fmts[FORMAT_OF[key.split(".")[-1]]]
            rows.append(Row(key, str(q), q.min, q.max, q.lsb, np.concatenate(collected[key])))
    for key in param_sets[0]:
        q = f.weight
        rows.append(Row(key, str(q), q.min, q.max, q.lsb,
                        np.concatenate([np.ravel(p[key]) for p in param_sets])))
    return Profile(rows)


def plot_ranges(profile: Profile, path, title: str, flags: dict | None = None):
    """Box plots of log2 |x| per row beside each format's span (grey bar, lsb to max).

    Rows with clipped entries are red and labelled with the clipped fraction; rows whose
    node had a saturation flag set in fixed-point training (``flags``: node -> registers,
    from :meth:`FixedPC.flags`) are labelled "flag". ``path`` None returns PNG bytes.
    """
    from .plots import plt, save_figure

    flags = flags or {}
    rows = profile.rows
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.6))
    ys = np.arange(len(rows))[::-1]
    data = []
    for r in rows:
        nz = np.abs(r.values[r.values != 0])
        data.append(np.log2(nz) if nz.size else np.array([np.nan]))
    for yy, r in zip(ys, rows):
        ax.barh(yy, np.log2(r.hi) - np.log2(r.lsb), left=np.log2(r.lsb), height=0.8,
                color="0.88", zorder=0)
    bp = ax.boxplot(data, positions=ys, orientation="horizontal", widths=0.55, showfliers=True,
                    flierprops={"markersize": 2}, patch_artist=True)
    for patch, r in zip(bp["boxes"], rows):
        patch.set_facecolor("tab:red" if r.clipped else "tab:blue")
        patch.set_alpha(0.7)
    labels = []
    for r in rows:
        node, reg = r.name.split(".", 1)
        mark = []
        if r.clipped:
            mark.append(f"clip {100 * r.clipped:.1f}%")
        if reg in flags.get(node, []):
            mark.append("flag")
        labels.append(f"{r.name} [{r.fmt}]" + (f"  ({', '.join(mark)})" if mark else ""))
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel("log2 |x|   (grey: representable span of the format, lsb to max)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
