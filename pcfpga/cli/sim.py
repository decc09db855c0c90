"""``pcfpga sim NET --data D --out O.npz``: simulate the hardware (Verilator, Icarus or
Amaranth's simulator) and check every register after every tick against the golden model.
"""

from __future__ import annotations

from ..golden.fixed_model import FixedPC
from ..golden.outputs import check_file, check_folder
from ..golden.params import load_dataset, save_npz
from ..golden.training import sample
from ..sim.session import SIMULATOR_CHOICES
from .common import (SIM_BUILD, CliError, build_design, fold_options, initial_params,
                     load_graph, non_negative_int, positive_int, print_folding, report_flags)

__all__ = ["register", "run"]


def register(sub):
    """Add the ``sim`` command to the subparsers ``sub``."""
    c = sub.add_parser("sim", help="simulate the hardware and check it against the golden "
                                   "model")
    c.add_argument("net", help="graph file (.toml)")
    c.add_argument("--data", required=True, help="dataset (.npz); step i uses sample i mod N")
    c.add_argument("--params", help="initial parameters (.npz); default: init from --seed")
    c.add_argument("--seed", type=non_negative_int, default=0, help="parameter init seed")
    c.add_argument("--steps", type=positive_int, default=1, help="training steps (default 1)")
    c.add_argument("--simulator", choices=SIMULATOR_CHOICES,
                   default="verilator", help="default verilator")
    c.add_argument("--waves", help="write waveforms to this file (.vcd; .fst for icarus)")
    c.add_argument("--build", default=SIM_BUILD,
                   help="build folder (one sub-folder per configuration, reused)")
    c.add_argument("--out", required=True, help="updated parameters (.npz)")
    fold_options(c)
    c.set_defaults(func=run)


def _check_outputs(args) -> str:
    """Check ``--out``, ``--waves`` and ``--build`` before any work; the ``--out`` path."""
    out = check_file(args.out, ".npz", "--out")
    from ..sim.session import WAVE_SUFFIX

    suffix = WAVE_SUFFIX[args.simulator]
    if args.waves and not args.waves.endswith(suffix):
        raise CliError(f"--waves {args.waves}: {args.simulator} writes {suffix} files; "
                       f"expected a name ending in {suffix}")
    if args.waves:
        check_file(args.waves, suffix, "--waves")
    if args.simulator != "amaranth":
        check_folder(args.build, "--build")
    return out


def _simulation(design, args):
    """The simulation simulation of ``design`` on ``args.simulator``, built."""
    from ..sim.simulate import Simulation, SimulatorMissing

    try:
        simulation = Simulation(design, args.simulator, waves=args.waves, build_root=args.build,
                                log=lambda s: print(s, flush=True))
    except SimulatorMissing as e:
        raise CliError(str(e)) from None
    simulation.build()
    return simulation


def run(args) -> int:
    """Simulate ``args.steps`` steps against the golden model and write the parameters; 0
    (a difference raises :class:`~pcfpga.sim.session.Mismatch`)."""
    out = _check_outputs(args)
    g = load_graph(args.net)
    params = initial_params(g, args)
    x, y, n = load_dataset(args.data, g)
    FixedPC(g).to_model(params)  # reject unrepresentable parameters before building
    from ..sim.simulate import simulate_against_golden

    design, est = build_design(g, args)
    if est is not None:
        print_folding(g, est, args.board)
    simulation = _simulation(design, args)
    samples = [(sample(x, i % n), sample(y, i % n)) for i in range(args.steps)]
    print(f"simulating {args.steps} step(s) of {g.name} (mode {g.learning.mode}, {g.ticks} "
          f"tick(s) each) on {args.simulator}, checking every register after every tick "
          f"...", flush=True)
    res = simulate_against_golden(design, params, samples, simulation=simulation)
    model = FixedPC(g)
    save_npz(out, model.to_float(res["params"]))
    speed = simulation.cycles / simulation.seconds if simulation.seconds else float("nan")
    print(f"match: every register equals the golden model after every tick of "
          f"{args.steps} step(s), and the updated parameters")
    print(f"{simulation.cycles} clock cycles ({res['cycles'] // max(args.steps, 1)} per step "
          f"incl. pauses for reading), {args.steps * g.ticks} ticks; simulation "
          f"{simulation.seconds:.2f} s, {speed:,.0f} cycles/s")
    report_flags(res["flags"])
    print(f"wrote {out}" + (f" and {args.waves}" if args.waves else ""))
    return 0
