"""What importing a layer loads: the host and the golden model stay light.

Each import runs in a fresh interpreter (this one has loaded everything already):
``pcfpga.host`` (the side of a board: link, frame driver, BoardPC) loads neither Amaranth's
simulator nor the hardware generator, and ``pcfpga.golden`` (the math) no Amaranth at all;
nor do the parts of ``pcfpga.sim`` that the host uses.
"""

import subprocess
import sys

import pytest


def _loaded(module: str, names: list) -> dict:
    """``{name: whether importing module loaded it}``, in a fresh interpreter."""
    code = (f"import sys, {module}; "
            f"print(' '.join(str(n in sys.modules) for n in {names!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    return dict(zip(names, (word == "True" for word in out)))


def test_the_host_loads_no_simulator():
    assert _loaded("pcfpga.host", ["amaranth.sim", "pcfpga.hdl.network", "pcfpga.sim.simulate",
                                   "pcfpga.host.training"]) == {
        "amaranth.sim": False, "pcfpga.hdl.network": False, "pcfpga.sim.simulate": False,
        "pcfpga.host.training": True}


@pytest.mark.parametrize("module", ["pcfpga.golden", "pcfpga.golden.fixed_model",
                                    "pcfpga.golden.training", "pcfpga.sim.session",
                                    "pcfpga.sim.beside", "pcfpga.sim.driver"])
def test_light_modules_load_no_amaranth(module):
    assert _loaded(module, ["amaranth", module]) == {"amaranth": False, module: True}
