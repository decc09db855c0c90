"""The serial architecture: every register in block RAM, one element per clock cycle.

Folding edges (:mod:`.fold`) saves multipliers but keeps each node's registers (v, a, v̂,
g, ε, δ, b, the host's buffers) in flip-flops, read in parallel through multiplexers: a
64-16-10 network then needs some 6,700 flip-flops and more logic cells than an iCE40UP5K
has. With ``reuse="serial"`` every node keeps each register vector in a memory of
``size`` words (block RAM after synthesis) and every micro-step walks the elements::

    cycle c       every register memory is read at element c (the step's fold_cnt)
    cycle c + 1   element c is computed, as the golden formula of one element, and
                  written back (latency 1); a tanh or sigmoid table read adds a cycle
                  (latency 2), the gate's ε register and registered multiplier
                  1 + LATENCY cycles (δ is written at latency 2 + LATENCY)

so a node step lasts ``size + latency`` cycles of the largest node that works in it
(:func:`~.folding.serial_phases`); a dense node with one parent takes each row sum from its
edge as the row completes, in the edge's phase, so the levels whose nodes all do so run no
prediction step FA<level> at all. Every node in a step reads element c of its own and its
neighbours' registers in the same cycle and writes element c one to four cycles later, so
all reads see the previous step's values: the tick stays a Jacobi update, and every register
equals the golden trace bit for bit (the stochastic rounding mixer takes the element as a
counted signal, :attr:`~.arith.HdlArith.element`).

Every dense edge is folded onto one multiplier (:class:`SerialEdgePE`: a
:class:`~.fold.FoldedEdgePE` with one lane, word t = i·cols + j). In its phases the edge
reads v_p[j] and δ_c[i] from the neighbours' memories, whose read addresses then follow
the edge's (i, j), counted by the owner from ``fold_cnt`` alone: one address sequence for
v (j = t mod size_p is the same for every edge out of p) and one per distinct parent size
for δ (a read port each). The exact row sums and messages stay in the edge's accumulators,
read by the node at element c.

The host reaches every element through the memory map as before: when no step runs, the
memories' ports follow the bus address, reads are registered (``host_rdata``,
``host_rsel``) and writes of rw fields (inputs, targets, biases) go to the write port. In a
lean build (:class:`~.memmap.Readback`) the registers' memories have no host read: their
ports follow the steps alone.

Multipliers: one per edge and one per node with δ (the gate), registered
(:class:`~.multiplier.Multiplier`: δ is gated in FE and TE, which last 1 + LATENCY cycles
longer), and
a mul node's, one for v̂ and one per hidden parent, combinational. Streaming mode is not
serial (every node works in every tick there).
"""

from __future__ import annotations

from amaranth.hdl import Array, Mux, Signal, signed
from amaranth.lib.memory import Memory

from pcfpga.golden.activations import TABLE_ACTS
from pcfpga.golden.fields import flags_field, input_field, target_field
from pcfpga.golden.lfsr import SITE_DELTA, SITE_VHAT

from . import ports
from .arith import BLOCK_RAM, HdlArith, single_port_ram
from .fold import FoldedEdgePE
from .folding import SERIAL
from .multiplier import LATENCY, delayed
from .parallel import InputPE, NodePE
from .pe import COMB, BuildContext, Register, or_tree
from .ports import delta_sizes, register_shape, row_sum_width
from .program import GATED_IN, STEP_COUNTER_BITS, Step, edge_phase

__all__ = ["SerialInputPE", "SerialNodePE", "SerialEdgePE", "SerialContext", "SerialPE"]

#: ``put(..., when=LATE)``: written two cycles after the read (table lookups).
LATE = "late"


class SerialContext(BuildContext):
    """A builder context where a vector is one element: the one at the current cycle."""

    def __init__(self, pe):
        super().__init__(pe)
        self.syncs = []             # (signal, value): registered helpers
        self.t1 = Signal(STEP_COUNTER_BITS, name="t1")    # the element computed this cycle
        self.valid1 = Signal(name="valid1")               # ... is an element of this node
        self.t2 = Signal(STEP_COUNTER_BITS, name="t2")    # the element a table read delivers
        self.valid2 = Signal(name="valid2")

    def regs(self, reg) -> Register:
        """One element of an own register: its memory's read data."""
        return Register(reg, [self.pe._memories[reg][1].data])

    def partial(self, parent):
        """The row sum of the step's element (a dense node with several parents)."""
        return [Array(super().partial(parent))[self.t1]]

    def put(self, step, targets, values, when=None):
        """``targets``: an own register (:meth:`regs`); ``when``: None (element of this
        cycle's step, latency 1), :data:`LATE` (latency 2) or ``(element, valid)`` (a row
        sum handed over by a fused edge, the gate's product 1 + LATENCY cycles later)."""
        if not isinstance(targets, Register):
            raise TypeError(f"A serial PE writes whole registers, not {targets!r}")
        super().put(step, [targets.reg] * len(targets), values, when)


class SerialPE:
    """What serial input and node PEs share (a mixin before :class:`~.parallel.InputPE`
    or :class:`~.parallel.NodePE`): the register memories, their addresses, the host's
    access and the write ports."""

    serial = True
    _ctx_class = SerialContext
    _default_reuse = SERIAL

    def _memory_fields(self) -> dict:
        """{register: (memory-map field, shape, host-writable)} of the memories."""
        g, n = self.graph, self.graph.node(self.owner)
        out = {reg: (f"{n.name}.{reg}", register_shape(g, reg), False) for reg in self.own}
        if n.op == "input":
            out["in"] = (input_field(n.name), register_shape(g, "v"), True)
            return out
        if n.bias:
            out["b"] = (f"{n.name}.b", signed(g.formats.weight.width), True)
        if n.output:
            out["target"] = (target_field(n.name), register_shape(g, "v"), True)
        return out

    def _prepare(self, m, ctx, arith):
        arith.element, arith.enable = ctx.t1, ctx.valid1
        size = self.graph.node(self.owner).size
        cnt = ctx.fold_cnt
        m.d.sync += [ctx.t1.eq(cnt), ctx.t2.eq(ctx.t1)]
        m.d.comb += [ctx.valid1.eq((cnt != 0) & (ctx.t1 < size)),
                     ctx.valid2.eq((cnt > 1) & (ctx.t2 < size))]
        self._memories = {}
        for reg, (_field, shape, _) in self._memory_fields().items():
            mem = Memory(shape=shape, depth=size, init=[], attrs=BLOCK_RAM)
            m.submodules[f"mem_{reg}"] = mem
            self._memories[reg] = (mem, mem.read_port(), mem.write_port())

    def _apply_writes(self, m, ctx):
        g, n = self.graph, self.graph.node(self.owner)
        size = n.size
        bits = max(1, (size - 1).bit_length())
        cnt = ctx.fold_cnt
        base_of = {reg: self.memmap[field].addr
                   for reg, (field, _, _) in self._memory_fields().items()}
        hits, rsel, host = {}, [], ctx.host
        for reg, (field, _, writable) in self._memory_fields().items():
            readable = self.memmap.readable(field)      # not a lean build's registers
            base = base_of[reg]
            hit = (host.addr >= base) & (host.addr < base + size)
            hits[reg] = hit
            elem = (host.addr - base)[:bits]
            _, rd, wr = self._memories[reg]
            # reads: the edges' sequence in their phases, the element of a step, the host
            address = Mux(ctx.ph_any, cnt[:bits], elem) if readable else cnt[:bits]
            if reg == "v":
                address = Mux(ctx.ph_edge, self._edge_cols(m, ctx, size)[:bits], address)
            if reg == "b" and self._fused:          # b[row] for the row sum handed over,
                cols = g.node(n.inputs[0]).size     # which meets its product's latency
                row = delayed(m, self._edge_rows(m, ctx, cols)[:bits], "b_row")
                address = Mux(ctx.ph_edge, row, address)
            if reg == "delta":
                sizes = delta_sizes(g, n.name)
                for k, s in enumerate(sizes):
                    row = self._edge_rows(m, ctx, s)[:bits]
                    if k == 0:
                        address = Mux(ctx.ph_edge, row, address)
                        m.d.comb += ports.edge_delta(self, s).eq(rd.data)
                    else:
                        extra = self._memories[reg][0].read_port()
                        m.d.comb += [extra.addr.eq(row), ports.edge_delta(self, s).eq(extra.data)]
            m.d.comb += rd.addr.eq(address)
            if reg in self.plan.served:           # one element, for the nodes reading it
                m.d.comb += ports.served(self, reg).eq(rd.data)
            if readable:
                q = Signal(name=f"rsel_{reg}")
                m.d.sync += q.eq(hit & ~ctx.ph_any)
                rsel.append((q, rd.data))
            # writes: the steps' values at their element, else the host
            w_addr, w_data = elem, host.data[:len(rd.data)]
            w_en = (host.we & hit) if writable else 0
            for step, regs, values, when in ctx.writes:
                if step == COMB:
                    continue
                for r, value in zip(regs, values):
                    if r != reg:
                        continue
                    strobe = ctx.strobe(step)
                    element, valid = ((ctx.t2, ctx.valid2) if when == LATE else
                                      when if isinstance(when, tuple) else
                                      (ctx.t1, ctx.valid1))
                    w_addr = Mux(strobe, element[:bits], w_addr)
                    w_data = Mux(strobe, value, w_data)
                    w_en = Mux(strobe, valid, w_en)
            m.d.comb += [wr.addr.eq(w_addr), wr.data.eq(w_data), wr.en.eq(w_en)]
        for step, targets, values, _when in ctx.writes:
            if step == COMB:
                m.d.comb += [t.eq(v) for t, v in zip(targets, values)]
        for signal, value in ctx.syncs:
            m.d.sync += signal.eq(value)
        m.d.comb += [self.host_rdata.eq(or_tree([Mux(q, data, 0).as_signed()
                                                 for q, data in rsel])),
                     self.host_rsel.eq(or_tree([q for q, _ in rsel]))]

    def _edge_cols(self, m, ctx, modulus):
        """j = fold_cnt mod ``modulus``, counted (the column an edge out of here reads)."""
        return self._counters(m, ctx, modulus)[1]

    def _edge_rows(self, m, ctx, cols):
        """i = fold_cnt div ``cols``, counted (the row an edge into here reads)."""
        return self._counters(m, ctx, cols)[0]

    def _counters(self, m, ctx, modulus):
        cache = ctx.cache.setdefault("counters", {})
        if modulus not in cache:
            cnt = ctx.fold_cnt
            j_reg = Signal(range(max(modulus, 2)), name=f"col_mod{modulus}")
            i_reg = Signal(STEP_COUNTER_BITS, name=f"row_div{modulus}")
            j = Mux(cnt == 0, 0, j_reg)
            i = Mux(cnt == 0, 0, i_reg)
            wrap = j == modulus - 1
            j_next, i_next = Mux(wrap, 0, j + 1), i + wrap
            if self.design.plan.single_port:    # a half-rate update holds each word 2 cycles
                advance = ~ctx.ph_half | cnt[0]
                j_next, i_next = Mux(advance, j_next, j), Mux(advance, i_next, i)
            m.d.sync += [j_reg.eq(j_next), i_reg.eq(i_next)]
            cache[modulus] = (i, j)
        return cache[modulus]


class SerialInputPE(SerialPE, InputPE):
    """An input node with its buffer ``in`` and value v in memories."""

    def _finish(self, m, ctx, arith):
        with m.If(ctx.clear):
            m.d.sync += self.regs.sat.eq(0)
        self._host_writes(m, ctx, {flags_field(self.owner): [self.regs.sat]})


class SerialNodePE(SerialPE, NodePE):
    """A dense, act, add or mul node with every register in a memory (the serial design
    is never in streaming mode: :func:`~.folding.check_reuse` refuses it)."""

    @property
    def _fused(self):
        """A dense node with one parent takes each row sum from its edge as it completes
        (in the edge's phase, PF<level> or PFT): no row sums are stored."""
        return self.plan.fused

    def _predict(self, ctx, arith, n, r, b):
        """A fused node: the edge starts the sum of the row whose products arrive from
        ``init`` = b[row] · 2^(n_v) + the rounding offset (:meth:`~.arith.HdlArith.dense_start`;
        b read at that row), and hands over its register a cycle after the row's last
        product: a[row] = sat(total >> n_w), with no adder between the sum and a."""
        if not self._fused:
            return super()._predict(ctx, arith, n, r, b)
        handed = ctx.row_sum
        if "a_row" not in ctx.cache:        # each row's start, for the row now arriving
            init = arith.dense_start(n, None if b is None else b[0], handed.row)
            ctx.writes.append((COMB, [handed.init], [init], None))
            ctx.cache["a_row"] = ctx.later(handed.row, "a_row", 1)
        total, row, done = handed.total, ctx.cache["a_row"], handed.done
        step = arith.step.products          # the edge's phase: FA<l> -> PF<l>, TA -> PFT
        saved = arith.step, arith.element, arith.enable
        arith.step, arith.element, arith.enable = step, row, done
        a = arith.dense_total(n, [total])
        arith.step, arith.element, arith.enable = saved
        ctx.put(step, r["a"], a, when=(row, done))
        ctx.cache.setdefault("a_new", (a[0], row, done))     # the same sum in PF and PFT
        return {}

    def _gate(self, ctx, arith, n, r, step, fresh):
        """δ ← sat_E(rnd(ε ⊙ g, n_v)) of element c, gated in the step that computes ε
        (FD's work in FE, TD's in TE: :data:`~.program.GATED_IN`): ``fresh``, the ε of
        element c computed in cycle c + 1, registered, and g read with it (delayed beside it)
        go through the registered multiplier (one for every step), and δ is written
        1 + LATENCY cycles later, when the product arrives (the step lasts the largest node
        + 2 + LATENCY cycles, :func:`~.folding.serial_phases`). The register keeps the
        relaxation that computes ε out of the multiplier's input path."""
        step = GATED_IN[step]
        arith.step = step
        wait = 1 + LATENCY
        if "gate" not in ctx.cache:
            operand = Signal(signed(self.graph.formats.error.width), name="gate_eps")
            gain = ctx.later(r["g"][0], "gate_g", 1)
            ctx.cache["gate"] = (operand, [], ctx.multiply(operand, gain, "gate_mul"),
                                 ctx.later(ctx.t1, "gate_t", wait))
        operand, sources, prod, element = ctx.cache["gate"]
        sources.append((ctx.strobe(step), fresh[0]))
        valid = ctx.later(ctx.valid1 & ctx.strobe(step), f"gate_{step}", wait)
        value, over = arith.gate_element(n, prod, element, name=f"gate_rnd_{step}")
        arith.record(n, SITE_DELTA, over & valid)
        ctx.put(step, r["delta"], [value], when=(element, valid))

    def _finish(self, m, ctx, arith):
        """The flags (:meth:`~.parallel.NodePE._finish`), and the gate multiplier's ε: the
        one the step now running computes, registered (each step's in its own register, and
        the step's chosen after them)."""
        super()._finish(m, ctx, arith)
        if "gate" in ctx.cache:
            operand, sources, _, _ = ctx.cache["gate"]
            value = None
            for k, (strobe, eps) in enumerate(sources):
                held = Signal.like(operand, name=f"gate_eps{k}")
                m.d.sync += held.eq(eps)
                if value is None:
                    value = held
                else:
                    chosen = Signal(name=f"gate_src{k}")
                    m.d.sync += chosen.eq(strobe)
                    value = Mux(chosen, held, value)
            m.d.comb += operand.eq(value)

    def _act(self, ctx, arith, n, r, step, v):
        """Tables (tanh, sigmoid) in block RAM: the entry of a[c] arrives a cycle after
        a[c] does, so v̂, g (and v) are written at latency 2 (``LATE``). A fused node does
        it in its edge's phase instead (:meth:`_act_in_edge_phase`)."""
        if self._fused:
            return self._act_in_edge_phase(ctx, arith, n, r, edge_phase(step), v)
        if n.act not in TABLE_ACTS:
            return super()._act(ctx, arith, n, r, step, v)
        arith.step = step
        V = self.graph.formats.value
        value, gain, over = arith.table_lookup(n, lambda: r["a"][0])
        arith.record(n, SITE_VHAT, over & ctx.valid2)
        ctx.put(step, r["vhat"], [value], when=LATE)
        ctx.put(step, r["g"], [gain], when=LATE)
        if v == "vhat":
            ctx.put(step, r["v"], [value], when=LATE)
        elif v is not None:                 # the target, read a cycle earlier
            late = Signal(signed(V.width), name="target_late")
            ctx.syncs.append((late, v[0]))
            ctx.put(step, r["v"], [late], when=LATE)

    def _act_in_edge_phase(self, ctx, arith, n, r, step, v):
        """v̂, g ← f(a), f'(a) of each row sum as it completes, in the edge's phase ``step``
        (PF<level>, PFT; :func:`~.program.fused`): a (from the edge's sum register, a
        cycle after the row's last product) registered a cycle later, its table entry (or f
        and f' in logic, a cycle later again) the cycle after that, so v̂, g and a hidden
        node's v are written three cycles after the last product (the phase lasts three
        cycles longer than the edge's words, :func:`~.folding.fold_plan`). An output's v
        takes its target in FE instead (:meth:`_error_gate`)."""
        arith.step = step
        if "act" not in ctx.cache:
            a, row, done = ctx.cache["a_new"]
            row1, done1 = ctx.later(row, "act_row", 1), ctx.later(done, "act_done", 1)
            ctx.cache["act"] = (ctx.later(a, "act_a", 1), row1, done1,
                                ctx.later(row1, "act_row2", 1), ctx.later(done1, "act_done2", 1))
        a1, row1, done1, row2, done2 = ctx.cache["act"]
        if n.act in TABLE_ACTS:
            value, gain, over = arith.table_lookup(n, lambda: a1)
            arith.record(n, SITE_VHAT, over & done2)
        else:
            saved = arith.element, arith.enable
            arith.element, arith.enable = row1, done1
            (vhat,), (g,) = arith.act(n, [a1])
            arith.element, arith.enable = saved
            value, gain = ctx.later(vhat, f"act_vhat_{step}", 1), ctx.later(g, f"act_g_{step}", 1)
        ctx.put(step, r["vhat"], [value], when=(row2, done2))
        ctx.put(step, r["g"], [gain], when=(row2, done2))
        if v == "vhat":
            ctx.put(step, r["v"], [value], when=(row2, done2))

    def _message_started(self, arith, n) -> bool:
        return arith.message_start(self.graph, n) is not None

    def _error_gate(self, ctx, arith, n, r, se, sd):
        """ε ← v − v̂ and δ (:meth:`~.parallel.NodePE._error_gate`); an output whose
        activation is looked up in its edge's phase takes its target as v in FE, and its ε
        from it."""
        if se == Step.FE and self._fused and n.output:
            target = ctx.regs("target")
            ctx.put(se, r["v"], target)
            r = {**r, "v": target}
        super()._error_gate(ctx, arith, n, r, se, sd)


class SerialEdgePE(FoldedEdgePE):
    """A dense edge of the serial architecture: one lane (word t = i·cols + j), v_p[j] and
    δ_c[i] one element each from the neighbours' memories (whose addresses follow the
    edge's word in its phases), the row sums handed to a one-parent child as they complete
    (``row_sum``), the message columns in a memory, and with ``serial-spram`` the weights of
    a large edge in a single-port memory, updated at half rate."""

    serial = True
    _ctx_class = SerialContext
    _default_reuse = SERIAL

    def _check(self, design, child, parent):
        super()._check(design, child, parent)
        plan = self.plan
        #: weights in a single-port memory (SPRAM); PU at half rate (see FoldPlan)
        self.single_port, self.half_update = plan.single_port, plan.half_update
        #: one parent: each row's sum goes straight to the child
        self.fused = plan.fused

    def _outputs(self, ctx, mw):
        if self.fused:                          # the sums start from the child's init
            self._row_sum = ctx.send("row_sum")
            self._fw = row_sum_width(self.graph, self.child, self.parent)
        else:
            fo = self.fold
            self._acc_f = [Signal(signed(self._fw), name=f"fwd_acc{i}")
                           for i in range(fo.rows)]
            ctx.output("fwd", self._acc_f)
        if "msg" in self.work:                  # one column at a time, from a memory
            self._msg_out = Signal(signed(mw), name="msg_out")
            ctx.output("msg", [self._msg_out])

    def _v_at(self, j):
        return self._v[0]

    def _d_at(self, k, grp, lane_rows):
        return self._d[0]

    def _row_start(self, k):
        return self._row_sum.init if self.fused else 0

    def _forward(self, m, k, total, run, grp, last, vf):
        """A fused child gets each row's sum from the register that holds it, in the cycle
        after the row's last product (no adder between the sum and the child's rounding)."""
        if not self.fused:
            return super()._forward(m, k, total, run, grp, last, vf)
        done = Signal(name="row_done")
        m.d.sync += done.eq(vf & last)
        m.d.comb += [self._row_sum.total.eq(run), self._row_sum.row.eq(grp),
                     self._row_sum.done.eq(done)]

    def _messages(self, m, ctx, prods, valids, vm, grp, j):
        self._serial_messages(m, ctx, prods[0], vm, grp, j)

    def _weight_memory(self, m, platform, width, granularity, depth):
        """A single-port edge on an iCE40UP5K platform: an SB_SPRAM256KA
        (:func:`~.arith.single_port_ram`); else a block-RAM memory."""
        if self.single_port and width == 16:
            ports = single_port_ram(m, platform, "weights", width, depth)
            if ports:
                return ports
        return super()._weight_memory(m, platform, width, granularity, depth)

    def _serial_messages(self, m, ctx, prod, vm, grp, j):
        """Serial edges: message column j accumulates over the rows in a memory
        (read-modify-write: column j is read while the word before it is processed, so a
        read never meets the write of its own address when there are two columns or more);
        the parent reads column t of it in its relaxation step. One column: a register.
        ``prod``, ``vm``, ``grp`` and ``j`` are the product's (LATENCY cycles after the
        word's read), so the column read follows the words' sequence that much later. A
        column starts from the parent's rounding offset where its relaxation takes it so
        (:meth:`~.arith.HdlArith.message_start`), else from 0."""
        cols = self.fold.cols
        g = self.graph
        start = HdlArith(g).message_start(g, g.node(self.parent)) or 0
        if cols == 1:
            acc = Signal.like(self._msg_out, name="msg_acc")
            with m.If(vm):
                m.d.sync += acc.eq(Mux(grp == 0, start, acc) + prod)
            m.d.comb += self._msg_out.eq(acc)
            return
        mem = Memory(shape=self._msg_out.shape(), depth=cols, init=[], attrs=BLOCK_RAM)
        m.submodules.messages = mem
        rd, wr = mem.read_port(), mem.write_port()
        cnt = ctx.fold_cnt
        bits = max(1, (cols - 1).bit_length())
        col = Signal(range(cols), name="msg_col")          # column of word fold_cnt
        ahead = Mux(cnt == 0, 0, col)
        m.d.sync += col.eq(Mux(ahead == cols - 1, 0, ahead + 1))
        ahead = delayed(m, ahead, "msg_col_late")
        m.d.comb += [rd.addr.eq(Mux(self._phase(ctx, "msg"), ahead, cnt[:bits])),
                     self._msg_out.eq(rd.data),
                     wr.addr.eq(j), wr.data.eq(Mux(grp == 0, start, rd.data) + prod),
                     wr.en.eq(vm)]
