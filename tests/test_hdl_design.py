"""The design (hdl/design.py): built once from a graph and a folding choice, validated, and
holding what the generator, simulators and fitter use (architecture, plan, program of
micro-steps, cycles, memory map)."""

import pytest
from amaranth.hdl import Fragment

from pcfpga.examples import EXAMPLES, example_path
from pcfpga.golden.graph import Graph
from pcfpga.hdl.design import Design
from pcfpga.hdl.folding import Architecture, Folding, check_reuse, fold_plan, table_ram_bits
from pcfpga.hdl.multiplier import LATENCY
from pcfpga.hdl.network import Network
from pcfpga.hdl.program import Op, Step, program


def _graph(name, **settings):
    return Graph.from_toml(str(example_path(name))).with_settings(**settings)


def test_step_names():
    assert [str(s) for s in (Step.F0, Step.fa(3), Step.ff(1), Step.pf(2), Step.PFT,
                             Step.UPD, Step.S4)] == ["F0", "FA3", "FF1", "PF2", "PFT", "UPD",
                                                     "S4"]
    assert Step.fa(2).products == Step.pf(2) and Step.TA.products == Step.PFT
    assert Step.TE.products is None
    assert Step.fa(1) == Step(Op.FA, 1) and len({Step.fa(1), Step(Op.FA, 1)}) == 1
    with pytest.raises(ValueError, match="Micro-step FA needs a forward level"):
        Step(Op.FA)
    with pytest.raises(ValueError, match="Micro-step TE has no forward level"):
        Step(Op.TE, 2)


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("reuse", [1, 2, "serial", "serial-spram"])
def test_design_holds_the_program_and_the_map(name, reuse):
    g = _graph(name)
    d = Design.build(g, reuse)
    expected = {1: (Architecture.PARALLEL,), 2: (Architecture.FOLDED, Architecture.PARALLEL),
                "serial": (Architecture.SERIAL,),
                "serial-spram": (Architecture.SERIAL_SPRAM,)}[reuse]
    assert d.architecture in expected
    assert d.serial == (reuse in ("serial", "serial-spram"))
    prog = program(g, fold_plan(g, reuse))
    assert d.program == prog and d.program.as_dict() == d.memmap.meta["micro_steps"]
    assert d.cycles_per_step == prog.cycles_per_step == d.memmap.meta["cycles_per_step"]
    assert d.cycles_per_tick == prog.cycles_per_tick == d.memmap.meta["cycles_per_tick"]
    if reuse == 1:      # L + A + 3 + 2T + 1 (exact mode; A levels with an activation),
        L = max(d.levels.values())          # and LATENCY more in each step that multiplies:
        A = len({d.levels[n.name] for n in g.nodes if n.op in ("dense", "act")})
        P = len({d.levels[n.name] for n in g.nodes if n.op in ("dense", "mul")})   # their FA,
        products = P + 2 + 2 * g.ticks              # FD, UPD, and TE, TD every tick
        tables = len({d.levels[n.name] for n in g.nodes     # FF reads a table in block RAM:
                      if n.op in ("dense", "act") and n.act in ("tanh", "sigmoid")})  # +1
        assert d.cycles_per_step == (L + A + 3 + 2 * g.ticks + 1 + LATENCY * products
                                     + tables)
    assert d.folding.to_json() == (reuse if isinstance(reuse, str) else
                                   {n.name: reuse for n in g.nodes if n.op in ("dense", "act")})
    assert check_reuse(g, d.folding.to_json()) == d.folding     # report.json's form reads back


def test_folding_is_one_typed_choice():
    """check_reuse makes every spelling of a folding one Folding: equal, hashable, with the
    architecture it asks for, the JSON form of report.json and a short text."""
    g = _graph("iris")
    two = check_reuse(g, 2)
    assert two == check_reuse(g, {"h": 2, "y": 2}) == check_reuse(g, two)
    assert len({two, check_reuse(g, {"h": 2, "y": 2})}) == 1
    assert two.architecture is Architecture.FOLDED and two.factor == 2 and str(two) == "2"
    assert two.to_json() == {"h": 2, "y": 2} and not two.serial
    mixed = check_reuse(g, {"y": 3})
    assert mixed.factor is None and str(mixed) == "h 1, y 3"
    one = check_reuse(g, Architecture.PARALLEL)
    assert one == check_reuse(g, 1) and one.architecture is Architecture.PARALLEL
    spram = check_reuse(g, "serial-spram")
    assert spram == Folding(Architecture.SERIAL_SPRAM) == check_reuse(g, spram.architecture)
    assert spram.serial and spram.factor is None and spram.to_json() == "serial-spram"
    assert Design.build(g, spram).folding == spram
    with pytest.raises(ValueError, match="Reuse factor given for 'q', which is not a dense"):
        check_reuse(g, Folding(Architecture.FOLDED, {"q": 2}))


def test_streaming_design_has_its_schedule():
    d = Design.build(_graph("dag", mode="streaming"))
    assert d.schedule is not None and d.lags == d.schedule.lags
    assert d.program.tick == (Step.S1, Step.S2, Step.S3, Step.S4)
    # S1 relaxes ε through products and gates it into δ through another, S4 gates
    assert d.cycles_per_step == 4 + 3 * LATENCY + 1     # and S2 reads tables in block RAM


@pytest.mark.parametrize("reuse, error, message", [
    (Architecture.FOLDED, ValueError, "The folded architecture needs reuse factors"),
    ("serial-ish", ValueError, "Reuse factor must be a positive integer, a dict"),
    (0, ValueError, "Reuse factor must be a positive integer, not 0"),
])
def test_design_rejects_bad_folding(reuse, error, message):
    with pytest.raises(error, match=message):
        Design.build(_graph("xor"), reuse)


def test_design_needs_a_graph_and_network_takes_it():
    with pytest.raises(TypeError, match="A design needs a validated Graph .* not dict"):
        Design.build({"name": "xor"})
    with pytest.raises(ValueError, match="The serial architecture is not available in "
                                         "streaming mode"):
        Design.build(_graph("xor", mode="streaming"), Architecture.SERIAL)
    d = Design.build(_graph("xor"), 2)
    net = Network(d)
    Fragment.get(net, None)
    assert net.design is d and net.memmap is d.memmap
    assert all(pe.design is d for pe in [*net.pes.values(), *net.edges.values()])
    assert Design.build(_graph("xor"), Architecture.PARALLEL).architecture is \
        Architecture.PARALLEL


def test_table_memory_bits():
    f = _graph("xor").formats
    assert table_ram_bits(f) == (1 << f.table_bits) * (f.value.width + f.value.frac_bits + 2)


def test_program_without_a_plan_is_unfolded():
    g = _graph("dag")
    assert all(s.op not in (Op.PF, Op.PM, Op.PFT, Op.PU) for s in program(g).steps)


@pytest.mark.parametrize("name, reuse, mode, steps, cycles", [
    ("xor", 1, "exact", "F0 1, FA1 3, FF1 2, FA2 3, FF2 2, FE 1, FD 3 | TE 3, TD 3 | UPD 3", 24),
    ("xor", 1, "streaming", "| S1 5, S2 2, S3 1, S4 3 |", 11),
    ("xor", 2, "exact", "F0 1, PF1 5, FA1 1, FF1 5, PF2 7, FA2 1, FF2 2, FE 1, FD 4 "
                        "| PM 7, TE 1, TD 4 | PU 7, UPD 1", 47),
    ("xor", "serial", "exact", "F0 3, PF1 14, PF2 10, FE 8 | PM 7, TE 8 | PU 11, UPD 5", 66),
    ("iris", "serial", "exact", "F0 5, PF1 38, PF2 30, FE 12 | PM 27, TE 12 | PU 35, UPD 9",
     168),
    ("dag", 1, "exact", "F0 1, FA1 3, FF1 2, FA2 3, FF2 2, FA3 1, FA4 3, FA5 3, FF5 1, FE 1, "
                        "FD 3 | TE 3, TD 3 | UPD 3", 50),
])
def test_programs_as_built(name, reuse, mode, steps, cycles):
    """The micro-steps and their cycles, written out: the serial architecture runs no FA/FF
    where its one-parent dense nodes work in the edge's phase and no FD/TD (gated in FE and
    TE), a serial step lasts as long as the nodes in it; a parallel step waits LATENCY
    cycles for its registered products and one for a block-RAM table, and a folded design's
    steps wait only for the products its unfolded parts make (xor at reuse 2: FA, TE, UPD
    take one cycle)."""
    d = Design.build(_graph(name, mode=mode), reuse)
    prog = d.program
    text = " | ".join(", ".join(f"{s} {prog.cycles(s)}" for s in part)
                      for part in (prog.forward, prog.tick, prog.update))
    assert text.strip() == steps.strip(), text
    assert d.cycles_per_step == cycles
