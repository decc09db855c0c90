"""``pcfpga check NET``: validate a graph and print its structure (and, with ``--board`` or
``--reuse``, its folding and resources)."""

from __future__ import annotations

from .common import build_design, fold_options, load_graph, print_folding, print_graph

__all__ = ["register", "run"]


def register(sub):
    """Add the ``check`` command to the subparsers ``sub``."""
    c = sub.add_parser("check", help="validate a graph and print its structure (and, with "
                                     "--board or --reuse, its folding and resources)")
    c.add_argument("net", help="graph file (.toml)")
    fold_options(c)
    c.set_defaults(func=run)


def run(args) -> int:
    """Print the graph of ``args.net`` (and its folding); 0."""
    g = load_graph(args.net)
    print_graph(g)
    if args.board is not None or args.reuse is not None:
        _, est = build_design(g, args)
        print_folding(g, est, args.board)
    return 0
