"""``pcfpga demo``: the bundled default network from training to its checked Verilog.

It trains the network with the bit-exact fixed-point model, prints the result, writes the
parameters and the loss plot, then generates the Verilog, lints it, and checks one training
step in Amaranth's simulator and on Verilator against the golden model. (``make demo`` then
synthesises the network's SoC for the iCEBreaker with ``pcfpga synth``.)
"""

from __future__ import annotations

import os
import sys

from .. import __version__
from ..examples import DEFAULT, data_path, example_path
from ..golden.fixed_model import FixedPC
from ..golden.outputs import check_folder
from ..golden.params import init_params, load_dataset
from ..sim.session import Mismatch, SimulationFailed
from .common import (load_graph, non_negative_int, positive_int, print_graph, report_flags,
                     table, train_run, write_results)

__all__ = ["register", "run"]


def register(sub):
    """Add the ``demo`` command to the subparsers ``sub``."""
    c = sub.add_parser("demo", help="train the bundled default network (fixed point)")
    c.add_argument("--out", default=os.path.join("out", "demo"), help="output folder")
    c.add_argument("--epochs", type=positive_int, default=300, help="epochs (default 300)")
    c.add_argument("--seed", type=non_negative_int, default=0, help="seed (default 0)")
    c.set_defaults(func=run)


def run(args) -> int:
    """Train, write, generate and check; 0, or 1 when a check fails or cannot run."""
    net = str(example_path(DEFAULT))
    g = load_graph(net)
    names = [f"{g.name}_trained.npz", f"{g.name}_loss.png", f"{g.name}.v", f"{g.name}.json"]
    check_folder(args.out, "--out", names)
    data = load_dataset(str(data_path(DEFAULT)), g)
    print(f"pcfpga {__version__} demo: the bundled {g.name} network ({net})")
    print_graph(g)
    print()
    model, label = FixedPC(g), "fixed-point PC"
    final, hist = train_run(g, model, label, init_params(g, args.seed), args, data, None,
                            max(1, args.epochs // 10))
    pred = model.predict(model.to_model(final), data[0])
    print("\nresult (fixed-point golden model):")
    rows = [("x", "target", "prediction")]
    for i in range(data[2]):
        rows.append((" ".join(f"{v:g}" for v in data[0]["x"][i]),
                     " ".join(f"{v:g}" for v in data[1]["y"][i]),
                     " ".join(f"{v:.4f}" for v in pred["y"][i])))
    table(rows)
    report_flags(model)
    print(f"final accuracy {100 * hist.train_acc[-1]:.0f} %, loss {hist.train_loss[-1]:.5f}")
    return _hardware(g, final, data, args.out, {label: hist})


def _hardware(g, params, data, folder, histories) -> int:
    """Generate the network's Verilog, write it with the results (all four files or none),
    and check one simulated training step."""
    from ..hdl.design import Design
    from ..hdl.export import lint, top_name, verilog_files
    from ..sim.simulate import simulate_against_golden

    print(f"\nhardware: generating {g.name}'s Verilog ...", flush=True)
    design = Design.build(g)                    # fully parallel, for every step below
    params_out = os.path.join(folder, f"{g.name}_trained.npz")
    plot_out = os.path.join(folder, f"{g.name}_loss.png")
    v_path, j_path = verilog = verilog_files(design, folder)
    write_results(params_out, params, plot_out, histories, f"{g.name}: fixed-point PC",
                  verilog)
    errors = lint(v_path, top_name(g))
    print(f"wrote {params_out}, {plot_out}, {v_path} and {j_path}; verilator lint: "
          f"{'no errors' if not errors else f'{len(errors)} errors'}")
    sample = ({k: v[0] for k, v in data[0].items()}, {k: v[0] for k, v in data[1].items()})
    print("simulating one training step (Amaranth simulator) against the golden model ...",
          flush=True)
    try:
        simulate_against_golden(design, params, [sample])
    except Mismatch as e:
        print(f"pcfpga: hardware differs from the golden model: {e}", file=sys.stderr)
        return 1
    print(f"hardware == golden: every register after the forward sweep and each of "
          f"{g.ticks} tick(s), and the updated weights; {design.cycles_per_step} clock cycles "
          f"per training sample")
    return _verilator(design, params, sample, folder, errors)


def _verilator(design, params, sample, folder, errors) -> int:
    """The same step on the generated Verilog under Verilator (its native model)."""
    from ..sim.simulate import Simulation, available, simulate_against_golden

    if not available("verilator"):
        print("verilator is not available here: the Verilog run is skipped", file=sys.stderr)
        return 1
    print("the generated Verilog on Verilator (native model), same step, same check ...",
          flush=True)
    simulation = Simulation(design, "verilator", build_root=os.path.join(folder, "sim"),
                            log=lambda s: print(s, flush=True))
    try:
        simulate_against_golden(design, params, [sample], simulation=simulation)
    except Mismatch as e:
        print(f"pcfpga: the Verilog differs from the golden model: {e}", file=sys.stderr)
        return 1
    except SimulationFailed as e:
        print(f"pcfpga: {e}", file=sys.stderr)
        return 1
    print(f"Verilog == golden on Verilator ({simulation.seconds:.1f} s)")
    return 1 if errors else 0
