"""The controller: sequences the golden engine's phases as one-hot micro-step strobes.

It owns the control words of the memory map (ctrl, status, steps, tick, cycles,
steps_done, lfsr) and the stochastic-rounding LFSR, which steps on the clock edge that
enters a phase, so every rounding of the phase sees the new state (golden/lfsr.py).

The micro-steps are ``design.program`` (:class:`~.program.Program`; the list, with the
folded phases and the streaming mode's, is in :mod:`.design`'s docstring): one strobe
``st_<step>`` each, high for the step's length in cycles (one, except the steps a folded
or serial design makes longer, ``Program.lengths``, which ``fold_cnt`` counts through).

With PAUSE set the controller stops after the forward sweep and after every tick (state
PAUSED) until CONTINUE. In streaming mode it also keeps the *presented* history: bit k is
set when the tick k + 1 ticks ago held a sample (BUBBLE clear).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from pcfpga.golden.lfsr import POLY

from .design import Design, as_design
from .memmap import CTRL_BITS, STEPS_BITS, WORD_BITS
from .program import LFSR_BITS, STEP_COUNTER_BITS
from .unused import rejecting

__all__ = ["Controller"]


class Controller(wiring.Component):
    """Phase sequencer of one graph.

    Ports: ``st_<name>`` one-hot micro-step strobes; ``lfsr``; ``bubble``; ``presented``
    (streaming history); ``clear`` (flags); ``busy``, ``done``; the control-word bus slice
    (``ctrl_we``, ``ctrl_data``: a write to ctrl; ``word_we``/``word_sel``/``word_data``:
    writes to steps and lfsr; ``words``: the read values of every control word).
    """

    def __init__(self, design: Design, presented: int | None = None):
        with rejecting(self):
            design = as_design(design, who="A controller")
        self.design, self.graph = design, design.graph
        self.program = design.program
        self.names = self.program.steps
        if presented is None:
            presented = design.schedule.latency if design.streaming else 0
        self.n_presented = presented
        members = {f"st_{s}": Out(1) for s in self.names}
        members.update({
            "lfsr": Out(LFSR_BITS), "bubble": Out(1), "clear": Out(1), "busy": Out(1),
            "done": Out(1), "paused": Out(1),
            "ctrl_we": In(1), "ctrl_data": In(WORD_BITS),
            "steps_we": In(1), "lfsr_we": In(1), "word_data": In(WORD_BITS),
            **{f"r_{word}": Out(WORD_BITS) for word in ("ctrl", "status", "steps", "tick",
                                                         "cycles", "steps_done", "lfsr")},
            "fold_cnt": Out(STEP_COUNTER_BITS),
        })
        if presented:
            members["presented"] = Out(presented)
        super().__init__(members)

    def strobe(self, step):
        """The one-hot strobe of micro-step ``step``."""
        return getattr(self, f"st_{step}")

    def elaborate(self, platform):
        m = Module()
        g = self.graph
        streaming = g.learning.mode == "streaming"
        lfsr = Signal(LFSR_BITS, init=g.formats.seed)
        steps = Signal(STEPS_BITS, init=1)
        remaining = Signal(STEPS_BITS)
        tick = Signal(range(g.ticks + 1))
        cycles, steps_done = Signal(WORD_BITS), Signal(WORD_BITS)
        pause, bubble, done, busy, paused = (Signal() for _ in range(5))
        lfsr_next = Mux(lfsr[0], (lfsr >> 1) ^ POLY, lfsr >> 1)
        start = self.ctrl_we & self.ctrl_data[CTRL_BITS["start"]]
        cont = self.ctrl_we & self.ctrl_data[CTRL_BITS["continue"]]
        m.d.comb += [
            self.lfsr.eq(lfsr), self.bubble.eq(bubble), self.busy.eq(busy),
            self.done.eq(done), self.paused.eq(paused),
            self.clear.eq(self.ctrl_we & self.ctrl_data[CTRL_BITS["clear"]] & ~busy),
            self.r_ctrl.eq(Cat(Const(0, 1), pause, Const(0, 1), bubble)),
            self.r_status.eq(Cat(busy, done, paused)), self.r_steps.eq(steps),
            self.r_tick.eq(tick), self.r_cycles.eq(cycles),
            self.r_steps_done.eq(steps_done), self.r_lfsr.eq(lfsr),
        ]
        with m.If(self.ctrl_we):
            m.d.sync += [pause.eq(self.ctrl_data[CTRL_BITS["pause"]]),
                         bubble.eq(self.ctrl_data[CTRL_BITS["bubble"]])]
        with m.If(~busy & self.steps_we):
            m.d.sync += steps.eq(self.word_data)
        with m.If(~busy & self.lfsr_we):
            m.d.sync += lfsr.eq(self.word_data)
        with m.If(busy):
            m.d.sync += cycles.eq(cycles + 1)
        if self.n_presented:
            hist = Signal(self.n_presented)
            m.d.comb += self.presented.eq(hist)
            with m.If(self.st_S1):
                m.d.sync += hist.eq(Cat(~bubble, hist[:-1]))

        prog = self.program
        forward, ticks, update = ([str(s) for s in steps]
                                  for steps in (prog.forward, prog.tick, prog.update))

        def begin():
            m.d.sync += lfsr.eq(lfsr_next)
            if streaming:
                m.next = ticks[0]
            else:
                m.d.sync += tick.eq(0)
                m.next = forward[0]

        def proceed(ticks_done):
            if streaming:
                with m.If(remaining > 1):
                    m.d.sync += remaining.eq(remaining - 1)
                    begin()
                with m.Else():
                    m.next = "DONE"
                return
            m.d.sync += lfsr.eq(lfsr_next)
            with m.If(ticks_done < g.ticks):
                m.next = ticks[0]
            with m.Else():
                m.next = update[0]

        def end_of_phase(ticks_done):
            with m.If(pause):
                m.next = "PAUSED"
            with m.Else():
                proceed(ticks_done)

        longest = max(prog.longest, 2)
        fold_cnt = Signal(range(longest))          # counts 0 .. length - 1 in a phase
        m.d.comb += self.fold_cnt.eq(fold_cnt)

        def sequence(steps, last):
            names = [str(s) for s in steps]
            for i, s in enumerate(steps):
                with m.State(names[i]):
                    m.d.comb += [busy.eq(1), self.strobe(s).eq(1)]
                    length = prog.cycles(s)
                    if length == 1:
                        advance(names, i, last)
                        continue
                    with m.If(fold_cnt != length - 1):    # a folded phase's cycles
                        m.d.sync += fold_cnt.eq(fold_cnt + 1)
                    with m.Else():
                        m.d.sync += fold_cnt.eq(0)
                        advance(names, i, last)

        def advance(names, i, last):
            if i + 1 < len(names):
                m.next = names[i + 1]
            else:
                last()

        def after_tick():
            if streaming:
                m.d.sync += steps_done.eq(steps_done + 1)
                end_of_phase(None)
            else:
                m.d.sync += tick.eq(tick + 1)
                end_of_phase(tick + 1)

        def after_update():
            m.d.sync += steps_done.eq(steps_done + 1)
            with m.If(remaining > 1):
                m.d.sync += remaining.eq(remaining - 1)
                begin()
            with m.Else():
                m.next = "DONE"

        with m.FSM(init="IDLE"):
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += [remaining.eq(Mux(steps == 0, 1, steps)), cycles.eq(0),
                                 done.eq(0)]
                    begin()
            if prog.forward:
                sequence(prog.forward, lambda: end_of_phase(Const(0)))
            sequence(prog.tick, after_tick)
            if prog.update:
                sequence(prog.update, after_update)
            with m.State("PAUSED"):
                m.d.comb += [busy.eq(1), paused.eq(1)]
                with m.If(cont):
                    proceed(tick)
            with m.State("DONE"):
                m.d.sync += done.eq(1)
                m.next = "IDLE"
        return m

