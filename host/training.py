"""Training on a board: whole epochs run on chip from the SoC's dataset buffer.

:class:`BoardPC` is a training model like :class:`~pcfpga.sim.training.SimulatedPC` (both
are a :class:`~pcfpga.sim.beside.BesideGolden`: ``to_model``, ``step``, ``run_epoch``,
``predict``, ...), so :func:`pcfpga.golden.training.train` and ``pcfpga train --backend
board`` drive it with the same seeded epoch order and print the same lines as every other
backend. An epoch::

    for each chunk of at most run.capacity samples, in the epoch's order:
        upload the chunk (quantised) into the data buffer            (frames over the link)
        run.samples = len(chunk), run.epochs = 1, START               (steps run on chip)
        the golden model runs the same steps beside it                (on the host)
    read every parameter and saturation flag word; compare with the golden model's

A difference raises :class:`~pcfpga.sim.session.Mismatch` (the board learned something other
than the bit-exact model). Evaluation uses the golden forward sweep on the parameters,
which equal the board's.

A board keeps its state between runs: :meth:`BoardPC.reset` writes the LFSR seed, clears
the saturation flags and sets ``steps`` to 1. In streaming mode the samples in flight
cannot be cleared over the bus, so the board must be freshly programmed (``steps_done`` 0).
"""

from __future__ import annotations

from pcfpga.golden.fixed_model import FixedPC, quantize
from pcfpga.hdl.memmap import CTRL_BITS
from pcfpga.sim.beside import BesideGolden

from .driver import Host, HostError, run_sync

__all__ = ["BoardPC"]


class BoardPC(BesideGolden):
    """A training model whose epochs run on the SoC behind ``host``
    (:class:`~.driver.Host`)."""

    def __init__(self, graph, host: Host, log=None):
        self.graph, self.host, self.log = graph, host, log
        self.golden = FixedPC(graph)
        self.steps = 0
        self.epoch = 0
        self._loaded = None

    def reset(self):
        """A fresh golden model, and the board's LFSR, flags and ``steps`` to match it."""
        h, mm = self.host, self.host.mm
        h.check()
        if self.graph.learning.mode == "streaming" and h.read_words(
                mm["steps_done"].addr, 1)[0]:
            raise HostError("streaming training needs a freshly programmed board (samples "
                            "of an earlier run may still be in flight): run pcfpga flash")
        h.write_words(mm["lfsr"].addr, [self.graph.formats.seed])
        h.write_words(mm["steps"].addr, [1])
        h.write_words(mm["ctrl"].addr, [1 << CTRL_BITS["clear"]])
        self.golden = FixedPC(self.graph)
        self._loaded = None
        self.epoch = 0

    def step(self, params, x, y):
        """One step driven from the host (as :meth:`FixedPC.step`); returns the golden
        trace after comparing the parameters."""
        params, traces = self._steps(params, [(x, y)], on_chip=False)
        return params, traces[0]

    def run_epoch(self, params, samples: list, progress=None):
        """One epoch of float ``(x, y)`` samples in this order, on chip."""
        self.epoch += 1
        done = 0
        cap = self.host.capacity
        for start in range(0, len(samples), cap):
            chunk = samples[start:start + cap]
            params, _ = self._steps(params, chunk, on_chip=True,
                                 progress=(lambda n, d=done: progress(d + n)) if progress else None)
            done += len(chunk)
        self._compare(params, f"after epoch {self.epoch}")
        return params

    def drain(self, params):
        """Streaming: bubble ticks until every sample has updated the weights."""
        if self.graph.learning.mode != "streaming":
            return params
        latency = self.golden.engine.latency
        run_sync(self.host.run([(None, None)] * latency, trace=False, bubble=True))
        params = self.golden.drain(params)
        self._compare(params, "after draining the pipeline")
        return params

    def close(self):
        self.host.link.close()

    # internals
    def _steps(self, params, samples, on_chip: bool, progress=None):
        g, V = self.graph, self.graph.formats.value
        if self._loaded is None or any((self._loaded[k] != params[k]).any() for k in params):
            run_sync(self.host.load(params))
        ints = [(quantize(g, x), quantize(g, y)) for x, y in samples]
        if on_chip:
            self.host.upload(ints)
            self.host.run_epochs(len(ints), 1, progress)
        else:
            run_sync(self.host.run(ints, trace=False))
        traces = []
        for x, y in ints:
            params, trace = self.golden.step(params, {k: V.to_float(v) for k, v in x.items()},
                                         {k: V.to_float(v) for k, v in y.items()})
            traces.append(trace)
            self.steps += 1
        self._loaded = params
        if not on_chip:
            self._compare(params, f"after step {self.steps - 1}")
        return params, traces

    def _compare(self, params, when: str):
        got = run_sync(self.host.read_params(self.state_names(params)))
        self.compare_state(got, params, f"board, {when}")
