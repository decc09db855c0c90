"""A constructor that rejects its arguments leaves no "created but never used" warning behind
(hdl/unused.py: every checking constructor runs its checks within ``rejecting``), and one
that accepts them is still reported when its component is never elaborated."""

import gc
import warnings

import pytest
from amaranth.hdl import Fragment, Module, UnusedElaboratable
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from pcfpga.boards.soc import SoC
from pcfpga.examples import example_path
from pcfpga.golden.graph import Graph
from pcfpga.hdl.bridge import FrameBridge
from pcfpga.hdl.controller import Controller
from pcfpga.hdl.design import Design
from pcfpga.hdl.network import Network
from pcfpga.hdl.parallel import EdgePE, NodePE
from pcfpga.hdl.runner import EpochRunner
from pcfpga.hdl.serial import SerialNodePE
from pcfpga.hdl.uart import UARTRx, UARTTx
from pcfpga.hdl.unused import never_elaborated, rejecting

XOR = Graph.from_toml(str(example_path("xor")))
DESIGN = Design.build(XOR)


def _warnings_on():
    """Amaranth reports unused elaboratables only once something has been elaborated in the
    process (before, it takes them for the debris of a crash)."""
    Fragment.get(Module(), None)


def _unused_warnings(make, error=(TypeError, ValueError)) -> list:
    """The UnusedElaboratable warnings left once ``make()`` has raised ``error`` and its
    traceback is gone."""
    _warnings_on()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(error):
            make()
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, UnusedElaboratable)]


@pytest.mark.parametrize("make", [
    lambda: Controller({}),
    lambda: Network({}),
    lambda: NodePE(XOR, "zz"),
    lambda: EdgePE(XOR, "y", "x"),
    lambda: SerialNodePE(DESIGN, "h"),
    lambda: UARTRx(3),
    lambda: UARTTx(True),
    lambda: FrameBridge(2, DESIGN.memmap),
    lambda: FrameBridge(104, 17),
    lambda: EpochRunner(DESIGN.memmap),
    lambda: SoC({}, 104, 2),
    lambda: SoC(DESIGN, 104, 0),        # rejected after its network was built
    lambda: SoC(DESIGN, 3, 2),
], ids=["controller", "network", "node-pe", "edge-pe", "serial-pe", "uart-rx", "uart-tx",
        "bridge-divisor", "bridge-map", "runner", "soc-design", "soc-capacity", "soc-divisor"])
def test_a_rejected_component_is_not_reported_unused(make):
    assert _unused_warnings(make) == []


class Checked(wiring.Component):
    """A component whose constructor checks its argument within ``rejecting``."""

    def __init__(self, width):
        with rejecting(self):
            if width < 1:
                raise ValueError(f"Width must be positive, not {width}")
        super().__init__({"o": Out(width)})


class Unchecked(wiring.Component):
    def __init__(self):
        raise ValueError("rejected without rejecting")


def test_rejecting_silences_a_rejection_only():
    """The check above sees the warning (a rejection without ``rejecting``), and a component
    whose checks passed is still reported when it is never elaborated."""
    assert _unused_warnings(lambda: Checked(0)) == []
    unused = _unused_warnings(Unchecked)
    assert len(unused) == 1 and unused[0].endswith("created but never used")
    _warnings_on()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Checked(1)
        gc.collect()
    assert [w.category for w in caught] == [UnusedElaboratable]


def test_never_elaborated_reaches_the_parts():
    """A network marked never elaborated takes its controller and every PE with it."""
    _warnings_on()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = Network(DESIGN)
        never_elaborated(net)
        del net
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, UnusedElaboratable)]
