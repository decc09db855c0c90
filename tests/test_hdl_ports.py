"""Declared interfaces (hdl/ports.py): every port a PE declares is driven and used.

For every bundled example and architecture the network is elaborated and the statements of
its top module are walked: each input port of each PE must be assigned there (driven by a
neighbour, the controller or the bus), and each output port must be read there (by a
neighbour, the controller's inputs or the memory map's read multiplexer). The PEs check
the other half themselves when they are elaborated: their datapath takes every input member
of their signature (the host bus, each control signal, strobe, read and vector) and sends
every declared output (:class:`~pcfpga.hdl.ports.InterfaceError`).
"""

import gc
import re
from dataclasses import replace

import pytest
from amaranth.hdl import Fragment
from amaranth.lib.wiring import Flow

from pcfpga.examples import EXAMPLES, example_path
from pcfpga.golden.graph import Graph
from pcfpga.hdl.design import Design
from pcfpga.hdl.network import Network
from pcfpga.hdl.parallel import NodePE
from pcfpga.golden.dataflow import Read
from pcfpga.hdl.plans import check_plans
from pcfpga.hdl.ports import InterfaceError
from pcfpga.hdl.program import Step

CONFIGS = [("exact", 1), ("exact", 2), ("exact", "serial"), ("standard", 2),
           ("standard", "serial-spram"), ("streaming", 1)]


def _graph(name, mode):
    return Graph.from_toml(str(example_path(name))).with_settings(
        mode=mode, **({"eta_v": 0.5, "ticks": 2} if mode == "standard" else {}))


def _top_signals(net):
    """(assigned, read): the signals the network's own statements drive and read."""
    fragment = Fragment.get(net, None)
    assigned, read = set(), set()                       # of id(signal): signals compare
    for statements in fragment.statements.values():     # with ==, not hash
        for stmt in statements:
            assigned |= {id(sig) for sig in stmt._lhs_signals()}
            read |= {id(sig) for sig in stmt._rhs_signals()}
    return assigned, read


@pytest.mark.parametrize("mode, reuse", CONFIGS)
@pytest.mark.parametrize("name", EXAMPLES)
def test_every_declared_port_is_driven_and_used(name, mode, reuse):
    design = Design.build(_graph(name, mode), reuse)
    net = Network(design)
    assigned, read = _top_signals(net)
    undriven, unread = [], []
    for pe in [*net.pes.values(), *net.edges.values()]:
        for path, member, value in pe.signature.flatten(pe):
            port = f"{pe.describe()}: {'.'.join(map(str, path))}"
            if member.flow == Flow.In and id(value) not in assigned:
                undriven.append(port)
            if member.flow == Flow.Out and id(value) not in read:
                unread.append(port)
    assert not undriven, f"inputs nobody drives: {undriven}"
    assert not unread, f"outputs nobody reads: {unread}"


class _ReadsMore(NodePE):
    """A node PE whose plan declares a read its datapath does not make."""

    def _check(self, design, name):
        super()._check(design, name)
        self.plan = replace(self.plan, reads=self.plan.reads + (Read("y", "eps"),))


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_a_datapath_must_match_its_interface():
    """A declared port left unused, or an undeclared step written in, fails at elaboration."""
    design = Design.build(_graph("xor", "exact"))
    pe = _ReadsMore(design, "h")
    with pytest.raises(InterfaceError, match=r"_ReadsMore h: its interface declares what "
                                             r"its datapath does not use: takes "
                                             r"reads\.eps_y_0$"):
        Fragment.get(pe, None)
    plan = design.nodes["h"]
    pe = NodePE(design, "h")
    pe.plan = replace(plan, steps=plan.steps[:-1])                      # UPD undeclared
    with pytest.raises(InterfaceError, match=f"NodePE h: its datapath writes in "
                                             f"{plan.steps[-1]}, which its interface does not "
                                             f"declare"):
        Fragment.get(pe, None)
    gc.collect()                        # the modules the failed elaborations left, unused


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_lfsr_and_clear_only_where_used(rounding):
    """The LFSR word only in PEs that round stochastically, CLEAR only in the nodes (their
    sticky flags): every member is checked by the PE (InterfaceError) and the test above."""
    design = Design.build(_graph("xor", "exact").with_settings(rounding=rounding))
    net = Network(design)
    everything = {**net.pes, **{f"{c}.W.{p}": e for (c, p), e in net.edges.items()}}
    lfsr = {name for name, pe in everything.items() if "lfsr" in pe.control.signature.members}
    clear = {name for name, pe in everything.items()
             if "clear" in pe.control.signature.members}
    assert clear == set(net.pes)
    assert lfsr == (set(everything) - {"x"} if rounding == "stochastic" else set())
    Fragment.get(net, None)             # and each PE uses what it declares


def test_plans_are_checked_against_the_program():
    """check_plans (run by Design.build) refuses a plan whose step the program does not run,
    a read of a register its producer does not hold, and a lag beyond the delay line."""
    d = Design.build(_graph("dag", "streaming"))
    assert Step.S1 in d.nodes["y"].steps and d.nodes["y"].bubble
    check_plans(d.program, dict(d.nodes), dict(d.edges))            # the built plans pass
    y = d.nodes["y"]
    cases = [(replace(y, steps=y.steps + (Step.UPD,)),
              "PE y writes in micro-step UPD, which the program (S1, S2, S3, S4) does not run"),
             (replace(y, reads=y.reads + (Read("x", "eps"),)),
              "PE y reads x.eps, which x does not hold"),
             (replace(y, reads=y.reads + (Read("x", "v", 99),)),
              "PE y reads x.v 99 ticks back, beyond its delay line")]
    for plan, message in cases:
        with pytest.raises(AssertionError, match=re.escape(message)):
            check_plans(d.program, {**d.nodes, "y": plan}, dict(d.edges))
