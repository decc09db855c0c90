"""The controller: sequences the golden engine's phases as one-hot micro-step strobes.

It owns the control words of the memory map (ctrl, status, steps, tick, cycles,
steps_done, lfsr) and the stochastic-rounding LFSR, which steps on the clock edge that
enters a phase, so every rounding of the phase sees the new state (golden/lfsr.py).

The micro-steps are ``design.program`` (:class:`~.program.Program`; the list, with the
folded phases and the streaming mode's, is in :mod:`.design`'s docstring): one strobe
``control.st.<step>`` each, high for the step's length in cycles (one, except the steps a
folded or serial design makes longer, ``Program.lengths``, which ``control.fold_cnt``
counts through, ``control.last`` marking its last cycle, the one a step's registers are
written in). ``control`` is :func:`~.ports.control`'s signature with every member: the
network connects each PE's ``control`` to the part of it that the PE declares.

With PAUSE set the controller stops after the forward sweep and after every tick (state
PAUSED) until CONTINUE. In streaming mode it also keeps the *presented* history: bit k is
set when the tick k + 1 ticks ago held a sample (BUBBLE clear).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from pcfpga.golden.lfsr import POLY

from . import ports
from .design import Design, as_design
from .memmap import CTRL_BITS, STEPS_BITS, WORD_BITS
from .pe import or_tree
from .program import LFSR_BITS, Step
from .unused import rejecting

__all__ = ["Controller"]


class Controller(wiring.Component):
    """Phase sequencer of one graph.

    Ports: ``control`` (:func:`~.ports.control`): ``st.<step>``, the one-hot micro-step
    strobes, ``fold_cnt``, ``last`` (the step's last cycle), ``lfsr``, ``bubble``,
    ``presented`` (streaming history), ``clear`` (flags) and, serial,
    ``ph_any``/``ph_edge``/``ph_half`` (a step, an edge's phase, the half-rate update
    runs); ``busy``, ``done``, ``paused``; the control-word bus slice (``ctrl_we``,
    ``ctrl_data``: a write to ctrl; ``steps_we``/``lfsr_we``/``word_data``: writes to steps
    and lfsr; ``r_<word>``: the read values of every control word).
    """

    def __init__(self, design: Design):
        with rejecting(self):
            design = as_design(design, who="A controller")
        self.design, self.graph = design, design.graph
        self.program = design.program
        self.names = self.program.steps
        super().__init__({
            "control": Out(ports.control(design)), "busy": Out(1), "done": Out(1), "paused": Out(1),
            "ctrl_we": In(1), "ctrl_data": In(WORD_BITS),
            "steps_we": In(1), "lfsr_we": In(1), "word_data": In(WORD_BITS),
            **{f"r_{word}": Out(WORD_BITS) for word in ("ctrl", "status", "steps", "tick",
                                                         "cycles", "steps_done", "lfsr")},
        })

    def strobe(self, step):
        """The one-hot strobe of micro-step ``step``."""
        return ports.strobe(self.control, step)

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
        busy_out = Signal()     # ``busy`` as a register: set on leaving IDLE, cleared into DONE
        # PAUSED as the host sees it: from the second cycle of the state (the sticky flags
        # take the last step's overflow bits a cycle late) until a CONTINUE is taken
        paused_out = Signal()
        lfsr_next = Mux(lfsr[0], (lfsr >> 1) ^ POLY, lfsr >> 1)
        start = self.ctrl_we & self.ctrl_data[CTRL_BITS["start"]]
        cont = self.ctrl_we & self.ctrl_data[CTRL_BITS["continue"]]
        out = self.control
        m.d.comb += [
            out.lfsr.eq(lfsr), out.bubble.eq(bubble), self.busy.eq(busy_out),
            self.done.eq(done), self.paused.eq(paused_out),
            out.clear.eq(self.ctrl_we & self.ctrl_data[CTRL_BITS["clear"]] & ~busy_out),
            self.r_ctrl.eq(Cat(Const(0, 1), pause, Const(0, 1), bubble)),
            self.r_status.eq(Cat(busy_out, done, paused_out)), self.r_steps.eq(steps),
            self.r_tick.eq(tick), self.r_cycles.eq(cycles),
            self.r_steps_done.eq(steps_done), self.r_lfsr.eq(lfsr),
        ]
        with m.If(self.ctrl_we):
            m.d.sync += [pause.eq(self.ctrl_data[CTRL_BITS["pause"]]),
                         bubble.eq(self.ctrl_data[CTRL_BITS["bubble"]])]
        # the host's writes, gated by the registered busy (equal to the state machine's: set
        # on leaving IDLE, cleared into DONE), not the OR of every state
        with m.If(~busy_out & self.steps_we):
            m.d.sync += steps.eq(self.word_data)
        with m.If(~busy_out & self.lfsr_we):
            m.d.sync += lfsr.eq(self.word_data)
        with m.If(busy_out):
            m.d.sync += cycles.eq(cycles + 1)
        if streaming:
            hist = Signal.like(out.presented, name="hist")
            m.d.comb += out.presented.eq(hist)
            with m.If(self.strobe(Step.S1) & out.last):      # once per tick
                m.d.sync += hist.eq(Cat(~bubble, hist[:-1]))
        if self.design.serial:      # what the serial nodes' memories follow
            phases = [self.strobe(ph) for ph in self._edge_phases()]
            m.d.comb += [out.ph_any.eq(busy & ~paused), out.ph_edge.eq(or_tree(phases))]
            if self.design.plan.single_port:
                m.d.comb += out.ph_half.eq(self.strobe(Step.PU))

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
                    m.d.sync += busy_out.eq(0)
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
        m.d.comb += out.fold_cnt.eq(fold_cnt)

        def sequence(steps, last):
            names = [str(s) for s in steps]
            for i, s in enumerate(steps):
                with m.State(names[i]):
                    m.d.comb += [busy.eq(1), self.strobe(s).eq(1)]
                    length = prog.cycles(s)
                    if length == 1:
                        m.d.comb += out.last.eq(1)
                        advance(names, i, last)
                        continue
                    m.d.comb += out.last.eq(fold_cnt == length - 1)
                    with m.If(fold_cnt != length - 1):    # a multi-cycle step's cycles
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
                m.d.sync += busy_out.eq(0)
                m.next = "DONE"

        with m.FSM(init="IDLE"):
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += [remaining.eq(Mux(steps == 0, 1, steps)), cycles.eq(0),
                                 done.eq(0), busy_out.eq(1)]
                    begin()
            if prog.forward:
                sequence(prog.forward, lambda: end_of_phase(Const(0)))
            sequence(prog.tick, after_tick)
            if prog.update:
                sequence(prog.update, after_update)
            with m.State("PAUSED"):
                m.d.comb += [busy.eq(1), paused.eq(1)]
                m.d.sync += paused_out.eq(~cont)
                with m.If(cont):
                    proceed(tick)
            with m.State("DONE"):
                m.d.sync += done.eq(1)
                m.next = "IDLE"
        return m

    def _edge_phases(self) -> list:
        """The steps in which some folded edge runs."""
        work = self.design.plan.work
        return sorted({ph for w in work.values() for ph in sum(w.values(), [])}, key=str)

