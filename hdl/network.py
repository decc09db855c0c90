"""``Network``: the PEs of a design wired per edge, a controller, and the memory-map bus.

One PE per node and one per dense edge, of the design's architecture (:mod:`.parallel`,
:mod:`.fold`, :mod:`.serial`); each PE's input ports are driven only by its neighbours'
registers, partial products and messages, the controller's signals and the host bus: the
vectors, the bus and each PE's ``control`` (from the part of the controller's that it
declares, :func:`~.ports.select`) with ``wiring.connect``, the register reads element by
element from the producer's register or delay-line tap. The
:class:`~.controller.Controller` runs the design's micro-steps (``design.program``; the
list, with the folded phases, and the cycles each takes are in :mod:`.design`'s docstring)
as one-hot strobes; the cycles of a tick and of a training step (a streaming sample: one
tick) are constants of the memory map (``cycles_per_tick``, ``cycles_per_step``) and of
the JSON manifest.

The bus: ``addr``, ``w_data``, ``w_en`` (writes at the clock edge; ignored while busy
except to ``ctrl``; the control words ``ctrl``, ``steps`` and ``lfsr`` take effect
:data:`~.memmap.CONTROL_LATENCY` cycles later: their writes are decoded into a register)
and ``r_data``, registered: it shows the word at the address of the previous cycle (so
that weights kept in block RAM read like every other field).
``busy`` and ``done`` are also ports, for LEDs.

``Network(design)`` is the hardware of a :class:`~.design.Design`
(:meth:`~.design.Design.build` of a graph and a folding choice), which says how (fully
parallel, folded onto fewer multipliers with weights in memory, :mod:`.fold`, or serial,
:mod:`.serial`) and holds the memory map and the micro-step program; a validated graph is
taken as its fully parallel design (:func:`~.design.as_design`). Each node's registers are
reached as ``net.pes[name].regs.<reg>`` (parallel and folded; :func:`~.ports.register`),
``net.fields`` (memory map name -> signals) and ``net.edges[(child, parent)]``.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from pcfpga.golden.fields import flags_field, input_field, target_field

from .controller import Controller
from .design import Design, as_design
from .fold import FoldedEdgePE, FoldedNodePE
from .folding import Architecture
from .memmap import CONTROL_LATENCY, ID_VALUE, WORD_BITS
from .parallel import EdgePE, InputPE, NodePE
from .pe import or_tree
from .ports import (edge_delta, host_bus, line, message, message_to, partial, read,
                    register, select, served)
from .serial import SerialEdgePE, SerialInputPE, SerialNodePE
from .unused import rejecting

__all__ = ["Network"]


class Network(wiring.Component):
    """The generated hardware of a :class:`~.design.Design` (or of a validated
    :class:`~pcfpga.golden.graph.Graph`, fully parallel)."""

    def __init__(self, design: Design):
        with rejecting(self):
            design = as_design(design, who="Network")
        self.design = design
        self.plan = design.plan
        self.graph = graph = design.graph
        self.streaming = design.streaming
        self.schedule = design.schedule
        self.memmap = design.memmap
        self.controller = Controller(design)
        # one module per architecture: the PE classes of each (a folded design's unfolded
        # nodes and edges are parallel ones)
        node_pe, edge_pe = {
            Architecture.PARALLEL: (NodePE, EdgePE),
            Architecture.FOLDED: (FoldedNodePE, FoldedEdgePE),
            Architecture.SERIAL: (SerialNodePE, SerialEdgePE),
            Architecture.SERIAL_SPRAM: (SerialNodePE, SerialEdgePE)}[design.architecture]
        input_pe = SerialInputPE if design.serial else InputPE
        self.pes = {}
        for n in graph.nodes:
            folded = design.nodes[n.name].gate or design.nodes[n.name].act_table
            cls = (input_pe if n.op == "input" else
                   node_pe if design.serial or folded else NodePE)
            self.pes[n.name] = cls(design, n.name)
        self.edges = {key: (edge_pe if e.fold is not None else EdgePE)(design, *key)
                      for key, e in design.edges.items()}
        super().__init__({"addr": In(self.memmap.addr_width), "w_data": In(WORD_BITS),
                          "w_en": In(1), "r_data": Out(WORD_BITS), "busy": Out(1),
                          "done": Out(1)})
        self.fields = self._field_signals()

    def _field_signals(self) -> dict:
        """memory-map name -> the signals holding it (for the read mux and the tests)."""
        out = {}
        for name, pe in self.pes.items():
            node = self.graph.node(name)
            out[flags_field(name)] = [pe.regs.sat]
            if pe.serial:                           # registers in memories
                continue
            for reg in pe.own:
                out[f"{name}.{reg}"] = list(register(pe, reg))
                if pe.plan.lines.get(reg):
                    out[f"{name}.{reg}.line"] = list(line(pe, reg))
            if node.op == "input":
                out[input_field(name)] = list(register(pe, "in"))
            else:
                if node.bias:
                    out[f"{name}.b"] = list(pe.regs.b)
                if node.output:
                    out[target_field(name)] = list(pe.regs.target)
        for (c, p), e in self.edges.items():
            if (c, p) not in self.plan.edges:       # folded weights are in a memory
                out[f"{c}.W.{p}"] = list(e.regs.W)
        return out

    def elaborate(self, platform):
        m = Module()
        ctl, mm = self.controller, self.memmap
        m.submodules.controller = ctl
        for name, pe in self.pes.items():
            m.submodules[f"pe_{name}"] = pe
        for (c, p), e in self.edges.items():
            m.submodules[f"edge_{c}_{p}"] = e
        everything = list(self.pes.values()) + list(self.edges.values())
        # the memory-map bus into every PE (writes only while idle)
        bus = host_bus(mm.addr_width).create(path=("host",))
        m.d.comb += [bus.addr.eq(self.addr), bus.data.eq(self.w_data),
                     bus.we.eq(self.w_en & ~ctl.busy)]
        wiring.connect(m, bus, *[pe.host for pe in everything])
        # the controller's signals: each PE's ``control`` from the part of the controller's
        # that it declares
        for pe in everything:
            wiring.connect(m, controller=select(ctl.control, pe.control.signature.flip()),
                           pe=pe.control)
            self._connect_reads(m, pe)
        # the neighbours' vectors: forward products (or row sums), messages
        for (c, p), e in self.edges.items():
            node = self.pes[c]
            m.d.comb += node.w_over[e.plan.k].eq(e.w_over)
            if e.plan.fused:
                wiring.connect(m, edge=e.row_sum, node=node.row_sum)
            else:
                wiring.connect(m, edge=e.fwd, node=partial(node, p))
            if "msg" in e.plan.sends:
                wiring.connect(m, edge=e.msg, parent=message(self.pes[p], c))
        for name, pe in self.pes.items():
            for p in pe.plan.sends:                     # a mul node's messages
                wiring.connect(m, mul=message_to(pe, p), parent=message(self.pes[p], name))
        # the control words' writes, decoded and registered (CONTROL_LATENCY): the address
        # compare does not reach into the controller's state machine and LFSR
        assert CONTROL_LATENCY == 1, "one register stage is built here"
        word = Signal(WORD_BITS)
        m.d.sync += [
            ctl.ctrl_we.eq(self.w_en & (self.addr == mm["ctrl"].addr)),
            ctl.steps_we.eq(self.w_en & (self.addr == mm["steps"].addr)),
            ctl.lfsr_we.eq(self.w_en & (self.addr == mm["lfsr"].addr)),
            word.eq(self.w_data),
        ]
        m.d.comb += [ctl.ctrl_data.eq(word), ctl.word_data.eq(word),
                     self.busy.eq(ctl.busy), self.done.eq(ctl.done)]
        self._read_mux(m)
        return m

    def _connect_reads(self, m, pe):
        """Drive each read port from the producer's register (lag 0) or line tap."""
        for r in pe.plan.reads:
            node, reg, lag = r.node, r.reg, r.lag
            producer = self.pes[node]
            size = self.graph.node(node).size
            if pe.serial:       # one element: the step's, or (an edge's δ) its row's
                if reg == "delta" and isinstance(pe, SerialEdgePE):
                    src = edge_delta(producer, self.graph.node(pe.parent).size)
                else:
                    src = served(producer, reg)
                m.d.comb += read(pe, r)[0].eq(src)
                continue
            src = (list(register(producer, reg)) if lag == 0 else
                   list(line(producer, reg))[(lag - 1) * size:lag * size])
            for a, b in zip(read(pe, r), src):
                m.d.comb += a.eq(b)

    def _read_mux(self, m):
        """Registered reads: ``r_data`` holds the word at the address of the cycle before
        (folded weights come from their memory's read port with the same latency); the
        fields the memory map reads back (:meth:`~.memmap.MemoryMap.readable`), others 0."""
        mm, ctl = self.memmap, self.controller
        control = {"id": Const(ID_VALUE, WORD_BITS), "ctrl": ctl.r_ctrl, "status": ctl.r_status,
                   "steps": ctl.r_steps, "tick": ctl.r_tick, "cycles": ctl.r_cycles,
                   "steps_done": ctl.r_steps_done, "lfsr": ctl.r_lfsr,
                   "cycles_per_tick": Const(self.design.cycles_per_tick, WORD_BITS),
                   "cycles_per_step": Const(self.design.cycles_per_step, WORD_BITS)}
        word = Signal(WORD_BITS)
        with m.Switch(self.addr):
            for name, value in control.items():
                with m.Case(mm[name].addr):
                    m.d.sync += word.eq(value)
            for f in mm.fields:
                if f.kind == "control" or f.name not in self.fields or not mm.readable(f):
                    continue                # a lean build reads no register back
                for i, sig in enumerate(self.fields[f.name]):
                    with m.Case(f.addr + i):
                        m.d.sync += word.eq(sig if f.kind == "flags" else sig.as_signed())
        folded = ([self.edges[k] for k in self.plan.edges]
                  + [pe for pe in self.pes.values() if pe.serial])
        if not folded:
            m.d.comb += self.r_data.eq(word)
            return
        # at most one memory is selected: an OR of the selected words (a balanced tree)
        memories = or_tree([Mux(e.host_rsel, e.host_rdata, 0) for e in folded])
        m.d.comb += self.r_data.eq(Mux(or_tree([e.host_rsel for e in folded]), memories, word))
