"""What the ``pcfpga`` commands share: the parser, option types, loading, the design (the
graph and its folding, :func:`build_design`), tables, the training run and its outputs.

Every command module of :mod:`pcfpga.cli` is written over these public helpers and imports
no other command module (the applet pattern of Glasgow): a new command is a new module.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from ..boards.devices import BOARDS
from ..boards.devices import board as find_board
from ..golden.backprop import Backprop
from ..golden.graph import Graph
from ..golden.outputs import write_all
from ..golden.params import init_params, load_params
from ..golden.training import train
from ..hdl.design import Design
from ..hdl.folding import SERIAL_KINDS

__all__ = ["CliError", "Parser", "int_at_least", "positive_int", "non_negative_int",
           "reuse_factor", "fold_options", "SIM_BUILD", "load_graph", "initial_params",
           "print_graph", "build_design", "print_folding", "report_flags", "table_text", "table",
           "train_run", "write_results"]

#: The default simulation build folder (one sub-folder per configuration, reused).
SIM_BUILD = os.path.join("build", "sim")


class CliError(ValueError):
    """Bad command-line input."""


class Parser(argparse.ArgumentParser):
    """argparse, but a bad option is one line (``pcfpga: error: ...``) and exit code 2."""

    def error(self, message):
        self.exit(2, f"pcfpga: error: {message} (see {self.prog} --help)\n")


# ---------------------------------------------------------------------------- options
def int_at_least(low: int, what: str):
    """An argparse type: an integer >= ``low``.

    Parameters
    ----------
    low : int
        The smallest value accepted.
    what : str
        The value's description in the error message (``expected {what}, not ...``).

    Returns
    -------
    callable
        ``str -> int``, raising :class:`argparse.ArgumentTypeError`.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            shown = text if len(text) <= 40 else f"{text[:20]}...{text[-10:]}"
            raise argparse.ArgumentTypeError(f"expected {what}, not {shown!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, not {value}")
        return value

    return parse


#: An argparse type: a positive integer.
positive_int = int_at_least(1, "a positive integer")
#: An argparse type: a non-negative integer.
non_negative_int = int_at_least(0, "a non-negative integer")


def reuse_factor(text: str):
    """An argparse type for ``--reuse``: a positive integer, ``serial`` or ``serial-spram``.
    """
    if text in SERIAL_KINDS:
        return text
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, 'serial' or "
                                         f"'serial-spram', not {text!r}") from None


def fold_options(c, prefix: str = ""):
    """Add ``--board`` and ``--reuse`` (the folding, :func:`build_design`) to parser ``c``;
    ``prefix`` starts their help (the backends they apply to)."""
    c.add_argument("--board", choices=sorted(BOARDS),
                   help=f"{prefix}fold the network to fit this board (the fitter chooses the "
                        f"reuse factors)")
    c.add_argument("--reuse", type=reuse_factor,
                   help=f"{prefix}reuse factor of every dense and act node, 'serial' "
                        f"(registers in block RAM, one element per cycle) or 'serial-spram' "
                        f"(large edges' weights in SPRAM too); overrides the fitter; "
                        f"default 1, fully parallel")


# ---------------------------------------------------------------------------- the network
def load_graph(path: str) -> Graph:
    """The graph of a ``.toml`` file (:class:`~pcfpga.golden.graph.GraphError` if bad)."""
    return Graph.from_toml(path)


def initial_params(graph, args):
    """The initial parameters: ``args.params`` (a ``.npz``) or drawn from ``args.seed``."""
    if args.params:
        return load_params(args.params, graph)
    return init_params(graph, args.seed)


def print_graph(g):
    """Print a graph's structure: sizes, formats, learning, its nodes and edges."""
    f, lr = g.formats, g.learning
    print(f"graph {g.name}: {len(g.nodes)} nodes, {len(g.edges)} edges, {g.n_params} "
          f"parameters, depth D = {g.depth}")
    print(f"formats: value {f.value}, error {f.error}, weight {f.weight}, rounding "
          f"{f.rounding}, tables 2^{f.table_bits} entries, LFSR seed {f.seed}")
    print(f"learning: mode {lr.mode}, eta_v {lr.eta_v:g} (shift {lr.shift_v}), eta_theta "
          f"{lr.eta_theta:g} (shift {lr.shift_theta}), {g.ticks} ticks per sample")
    rows = [("node", "op", "size", "act", "inputs", "flags")]
    for n in g.nodes:
        act = n.act if n.op in ("dense", "act") else ""
        flags = ", ".join(k for k in ("bias", "output") if getattr(n, k)) or (
            "hidden" if n.is_hidden else "")
        rows.append((n.name, n.op, str(n.size), act, ", ".join(n.inputs), flags))
    table(rows)
    print("edges:")
    shapes = g.param_shapes
    for p, c in g.edges:
        key = f"{c}.W.{p}"
        what = f"W {shapes[key][0]}x{shapes[key][1]}" if key in shapes else g.node(c).op
        print(f"  {p} -> {c}  ({what})")


# ---------------------------------------------------------------------------- the design
def build_design(graph, args, quiet: bool = False):
    """The :class:`~pcfpga.hdl.design.Design` of ``graph`` with the folding of ``--reuse``
    or the fitter's for ``--board`` (default: fully parallel): the one place a command
    turns its options into the design that everything after it takes.

    Parameters
    ----------
    graph : Graph
        The network.
    args : argparse.Namespace
        Its ``reuse`` and ``board`` (either may be missing or None).
    quiet : bool
        Do not say that ``--reuse`` overrides the fitter.

    Returns
    -------
    tuple
        ``(design, estimate)``: the estimate is None when neither option is given.

    Raises
    ------
    CliError
        A ``--reuse`` the graph cannot be built with or that does not fit ``--board``, or
        a network no folding fits.
    """
    from ..hdl.fit import FitError, estimate, fit, shortfalls

    reuse, board = getattr(args, "reuse", None), getattr(args, "board", None)
    if reuse is not None and board is not None and not quiet:
        print(f"--reuse {reuse} overrides the fitter for --board {board}")
    try:
        if reuse is not None:
            est = estimate(Design.build(graph, reuse))
            short = shortfalls(est, find_board(board).device) if board is not None else []
            if short:
                raise CliError(f"--reuse {reuse} does not fit --board {board}: "
                               f"{'; '.join(short)}")
            return est.design, est
        if board is not None:
            est = fit(graph, find_board(board).device)
            return est.design, est
        return Design.build(graph), None
    except FitError as e:
        raise CliError(str(e)) from None
    except CliError:
        raise
    except ValueError as e:
        raise CliError(f"--reuse: {e}" if reuse is not None else str(e)) from None


def print_folding(graph, est, board_name=None):
    """Print a folding estimate by part and, with a board, its training throughput."""
    print(f"architecture: {est.architecture}")
    rows = [("part", "multipliers", "lanes x words")]
    for part, count in est.by_part.items():
        key = part.split(" ", 1)[1]
        lanes = est.lanes.get(key)
        rows.append((part, str(count), f"{lanes[0]} x {lanes[1]}" if lanes else "-"))
    table(rows)
    print(f"total: {est.summary()}")
    print("LUTs are bounded through the flip-flop bits (hdl/fit.py FF_SHARE); synthesis "
          "gives the count")
    if board_name:
        b = find_board(board_name)
        d = b.device
        print(f"board {b.name} ({d.name}: {d.dsp} DSPs, {d.lut:,} LUTs, "
              f"{d.bram_bits + d.spram_bits:,} RAM bits), clock {b.clock_hz / 1e6:g} MHz: "
              f"{b.clock_hz / est.cycles_per_step:,.0f} training samples/s")


# ---------------------------------------------------------------------------- printing
def report_flags(model, out=None):
    """Print the saturation flags of ``model`` (or a dict of them) as one warning line.

    Returns
    -------
    dict
        The flags, ``{register: [names]}`` (empty when none saturated).
    """
    flags = model if isinstance(model, dict) else (
        model.flags() if hasattr(model, "flags") else {})
    if flags:
        text = "; ".join(f"{k}: {', '.join(v)}" for k, v in flags.items())
        print(f"warning: saturation (values clipped to their format) in {text}",
              file=out or sys.stdout)
    return flags


def table_text(rows) -> str:
    """Rows of strings as left-aligned columns, each line indented by two spaces."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in rows)


def table(rows, out=None):
    """Print :func:`table_text` of ``rows`` (to stdout, or ``out``)."""
    print(table_text(rows), file=out or sys.stdout)


# ---------------------------------------------------------------------------- training
def train_run(graph, model, label, params, args, train_set, test_set, log_every):
    """Train ``model`` for ``args.epochs`` from ``params`` with seed ``args.seed``, printing
    a heading and every ``log_every``-th epoch (and the last).

    Returns
    -------
    tuple
        ``(final parameters, History)`` of :func:`~pcfpga.golden.training.train`.
    """
    algo = "SGD" if isinstance(model, Backprop) else f"mode {graph.learning.mode}"
    print(f"training {graph.name} with {label} ({algo}), {args.epochs} epochs of "
          f"{train_set[2]} samples, seed {args.seed}")

    def log(line):
        epoch = int(line.split()[1])
        if epoch % log_every == 0 or epoch == args.epochs:
            print(line, flush=True)

    return train(model, params, train_set, test_set, epochs=args.epochs, seed=args.seed,
                 log=log)


def write_results(npz_path, params, png_path, histories, title, more=None):
    """Render the loss/accuracy plot first, then write it and the parameters (and ``more``
    files, ``{path: content}``) all together (or none)."""
    from ..golden.plots import plot_history

    png = plot_history(histories, None, title)
    write_all({npz_path: lambda f: np.savez_compressed(f, **params), png_path: png,
               **(more or {})})
