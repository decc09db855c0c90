"""``pcfpga verilog NET -o DIR``: the network's Verilog and memory map (linted with
``--lint``)."""

from __future__ import annotations

import sys

from ..golden.outputs import check_folder
from .common import CliError, build_design, fold_options, load_graph, print_folding

__all__ = ["register", "run"]


def register(sub):
    """Add the ``verilog`` command to the subparsers ``sub``."""
    c = sub.add_parser("verilog", help="generate the network's Verilog and memory map")
    c.add_argument("net", help="graph file (.toml)")
    c.add_argument("-o", required=True, help="output folder (created if missing)")
    c.add_argument("--lint", action="store_true", help="run verilator --lint-only on it")
    fold_options(c)
    c.set_defaults(func=run)


def run(args) -> int:
    """Write ``NAME.v`` and ``NAME.json`` into ``args.o``; 0, or 1 when the lint fails."""
    folder = check_folder(args.o, "-o")
    g = load_graph(args.net)
    check_folder(folder, "-o", [f"{g.name}.v", f"{g.name}.json"])
    from ..hdl.export import top_name, write_verilog

    design, est = build_design(g, args)
    print(f"elaborating {g.name} (mode {g.learning.mode}) ...", flush=True)
    v_path, j_path = write_verilog(design, folder)
    print(f"wrote {v_path} (module {top_name(g)}) and {j_path} (memory map)")
    if est is not None:
        print_folding(g, est, args.board)
    else:
        print(f"cycles per tick {design.cycles_per_tick}, per training step "
              f"{design.cycles_per_step}")
    return _lint(v_path, top_name(g)) if args.lint else 0


def _lint(v_path: str, top: str) -> int:
    """``verilator --lint-only`` of the file: 0, or 1 with its errors on stderr."""
    from ..hdl.export import VerilatorMissing, lint

    try:
        errors = lint(v_path, top)
    except VerilatorMissing as e:
        raise CliError(str(e)) from None
    if errors:
        print("\n".join(errors[:20]), file=sys.stderr)
        print(f"pcfpga: verilator lint found {len(errors)} error(s)", file=sys.stderr)
        return 1
    print("verilator --lint-only: no errors")
    return 0
