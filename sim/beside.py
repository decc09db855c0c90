"""A training model whose steps run on hardware with the golden model beside it.

:class:`BesideGolden` is what the simulated chip (:class:`~.training.SimulatedPC`) and a
board (:class:`pcfpga.host.training.BoardPC`) share: conversions, predictions and flags
are the bit-exact golden model's (``self.golden``), whose parameters equal the hardware's,
and :meth:`~BesideGolden.compare_state` checks that they do.

Light on purpose (NumPy and the golden model only, no Amaranth), so that the host side of
a board does not load the hardware generator or a simulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pcfpga.golden.fields import flags_field

from .session import Mismatch, compare_params

if TYPE_CHECKING:
    from pcfpga.golden.fixed_model import FixedPC

__all__ = ["BesideGolden"]


class BesideGolden:
    """A training model whose steps run on hardware while the bit-exact golden model
    (``self.golden``, a :class:`~pcfpga.golden.fixed_model.FixedPC`) runs the same steps
    beside it. Subclasses set ``golden`` and supply ``reset``, ``step`` and
    ``run_epoch``."""

    golden: FixedPC

    def to_model(self, params: dict) -> dict:
        return self.golden.to_model(params)

    def to_float(self, params: dict) -> dict:
        return self.golden.to_float(params)

    def predict(self, params, x) -> dict:
        return self.golden.predict(params, x)

    def flags(self) -> dict:
        return self.golden.flags()

    def compare_state(self, got: dict, params: dict, where: str):
        """Compare what was read from the hardware with the golden model.

        Parameters
        ----------
        got : dict
            The parameters and every node's ``{node}.sat`` word, read from the hardware
            (the names :meth:`state_names` lists).
        params : dict
            The golden model's integer parameters.
        where : str
            Where in the run, for the message.

        Raises
        ------
        Mismatch
            At the first differing parameter element or flag word.
        """
        compare_params(got, params, where)
        for n in self.golden.graph.nodes:
            hw, ref = int(got[flags_field(n.name)]), int(self.golden.arith.flags[n.index])
            if hw != ref:
                raise Mismatch(f"{where}: {n.name}.sat is {hw:#x}, golden {ref:#x}")

    def state_names(self, params: dict) -> list:
        """What :meth:`compare_state` needs read: the parameters and the flag words."""
        return list(params) + [flags_field(n.name) for n in self.golden.graph.nodes]
