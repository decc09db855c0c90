"""Training through the cycle-accurate simulation of the generated Verilog.

:class:`SimulatedPC` is a training model like :class:`~pcfpga.golden.fixed_model.FixedPC`
(``to_model``, ``step``, ``predict``, ...), so :func:`pcfpga.golden.training.train` and
``pcfpga train --backend sim`` drive it unchanged. Every training step runs on the
simulated hardware (one live :class:`~.session.Session` for the whole run, so the LFSR,
the saturation flags and, in streaming mode, the samples in flight carry over between
epochs exactly as on a chip); the golden model runs the same steps beside it and the two
are compared as they go:

* ``check="ticks"`` (default): every register the manifest names, after the forward sweep
  and after every tick of every step (streaming: before and after each tick);
* ``check="params"``: parameters and saturation flags only; each batch runs free on the
  hardware (one request, no register read between its steps: on Verilator's native model
  the whole batch runs in C++), while the golden model computes the same steps beside it
  in this thread.

In both, the parameters and flags are read back and compared after every batch of
``batch`` steps. The first difference raises :class:`~.session.Mismatch`, naming the
epoch, the step (``ticks``) or the batch's range of steps (``params``: a difference is
seen at the batch's end), the register or parameter, its element and both values.

Evaluation (loss and accuracy after each epoch) uses the golden forward sweep on the
parameters just read from the hardware, which equal the golden ones bit for bit.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from pcfpga.golden.fixed_model import FixedPC, quantize
from pcfpga.hdl.design import as_design

from .beside import BesideGolden
from .session import compare_traces
from .simulate import open_session

__all__ = ["SimulatedPC", "CHECKS"]

#: What is compared with the golden model during training.
CHECKS = ("ticks", "params")


class SimulatedPC(BesideGolden):
    """A training model whose steps run on a simulator (see the module docstring).

    Parameters
    ----------
    design : Design
        The hardware (:class:`~pcfpga.hdl.design.Design`; a graph: fully parallel).
    simulator : str
        ``verilator``, ``icarus`` or ``amaranth``.
    check : str
        One of :data:`CHECKS`.
    batch : int
        Steps per request to the simulator (parameters are compared after each).
    build_root, waves, log, engine
        As for :func:`~.simulate.open_session`.
    """

    def __init__(self, design, simulator: str = "verilator", check: str = "ticks",
                 batch: int = 64, build_root="build/sim", waves=None, log=None,
                 engine=None):
        if check not in CHECKS:
            raise ValueError(f"Check must be one of {', '.join(CHECKS)}, not {check!r}")
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"Batch must be a positive integer, not {batch!r}")
        self.design = as_design(design, who="A simulation")
        self.graph, self.simulator = self.design.graph, simulator
        self.check, self.batch = check, batch
        self._open_args = dict(build_root=build_root, waves=waves, log=log, engine=engine)
        self.golden = FixedPC(self.graph)
        self.session = None
        self._pool = None           # runs a free batch while the golden model computes
        self.steps_checked = 0
        self.epoch = 0
        self.cycles = 0
        self.seconds = 0.0

    def reset(self):
        """Start from a freshly reset chip and a fresh golden model."""
        self.close()
        self.golden = FixedPC(self.graph)
        self.session = open_session(self.design, self.simulator, **self._open_args)
        self._loaded = None
        self.epoch = 0

    def step(self, params, x, y):
        """One step (as :meth:`FixedPC.step`); the trace is the golden one, already
        compared with the hardware's."""
        params, traces = self._run(params, [(x, y)])
        return params, traces[0]

    def run_epoch(self, params, samples: list, progress=None):
        """Run an epoch's ``(x, y)`` float samples in order; returns the parameters."""
        self.epoch += 1
        done = 0
        for start in range(0, len(samples), self.batch):
            params, _ = self._run(params, samples[start:start + self.batch])
            done += len(samples[start:start + self.batch])
            if progress:
                progress(done)
        return params

    def drain(self, params):
        """Streaming: run bubble ticks until every sample has updated the weights, on both
        sides; the parameters are compared afterwards."""
        if self.graph.learning.mode != "streaming":
            return params
        if self.session is None:
            self.reset()
        self._sync(params)
        latency = self.golden.engine.latency
        self.session.run([(None, None)] * latency, trace=False, bubble=True)
        params = self.golden.drain(params)
        self._compare_state(params, "after draining the pipeline")
        self._loaded = params
        self._account()
        return params

    def close(self):
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self.session is not None:
            self._account()
            self.session.close()
            self.session = None

    # internals
    def _sync(self, params):
        """Load parameters the hardware does not already hold (the first call, or after
        the caller changed them)."""
        if self._loaded is None or any(not np.array_equal(self._loaded[k], params[k])
                                       for k in params):
            self.session.load(params)
            self._loaded = params

    def _run(self, params, samples):
        if self.session is None:
            self.reset()
        self._sync(params)
        g = self.graph
        ints = [(quantize(g, x), quantize(g, y)) for x, y in samples]
        first = self.steps_checked
        if self.check == "ticks":
            hw = self.session.run(ints, trace=True)
            params, traces = self._golden_steps(params, ints, hw)
            when = f"after step {self.steps_checked - 1}"
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="free-batch")
            running = self._pool.submit(self.session.run, ints, False)
            try:
                params, traces = self._golden_steps(params, ints, None)
            except BaseException:
                wait([running])         # the session is free again before anything else
                raise
            running.result()            # its error, if the simulation failed
            when = (f"after step {first}" if len(ints) == 1 else
                    f"steps {first} to {first + len(ints) - 1} (one batch)")
        self._compare_state(params, when)
        self._loaded = params
        self._account()
        return params, traces

    def _golden_steps(self, params, ints: list, hw):
        """The golden model's steps of the integer samples ``ints``; each compared with the
        hardware's trace in ``hw`` unless it is None. Returns (params, traces)."""
        V = self.graph.formats.value
        traces = []
        for s, (x, y) in enumerate(ints):
            params, ref = self.golden.step(params, {k: V.to_float(v) for k, v in x.items()},
                                           {k: V.to_float(v) for k, v in y.items()})
            if hw is not None:
                compare_traces(hw[s], ref, self.steps_checked, where=self._where())
            self.steps_checked += 1
            traces.append(ref)
        return params, traces

    def _where(self) -> str:
        return f"{self.simulator}, epoch {self.epoch}, " if self.epoch else f"{self.simulator}, "

    def _compare_state(self, params, when: str):
        """Parameters and every node's saturation flags, read from the hardware."""
        got = self.session.read(self.state_names(params))
        self.compare_state(got, params, f"{self._where()}{when}")

    def _account(self):
        if self.session is not None:
            self.cycles, self.seconds = self.session.cycles, self.session.seconds

    @property
    def speed(self) -> float:
        return self.cycles / self.seconds if self.seconds else float("nan")
