"""Folding: dense edges that time-share a few multipliers and keep their weights in RAM.

A *reuse factor* R (one for every dense and act node, or one per node: a dense node's
folds the edges into it and its own δ, an act node's its δ and tables, see below) folds an
edge p -> c of ``rows × cols`` weights onto ``M = min(rows, ceil(rows·cols / R))`` multiplier
lanes, one per row of a group of M rows. The weights live in a memory
(``amaranth.lib.memory``, block RAM after synthesis) of ``D = ceil(rows / M)·cols`` words
of M lanes: W[i][j] is lane ``i mod M`` of word ``(i div M)·cols + j``, so word t holds
column ``j = t mod cols`` of the rows of group ``t div cols``. A lane keeps one running
row sum for the forward product and the message needs one column adder, which is what
keeps the logic small. The fully parallel :class:`~.parallel.EdgePE` is the extreme R = 1; an
R below cols gives M = rows (depth cols).

Each lane has **one** multiplier; its operands are chosen by the phase:

=======  =================================  =====================================
phase    product of lane m at word t        accumulated into
=======  =================================  =====================================
forward  W[i][j] · v_p[j]                   the lane's row sum, then fwd[i] (exact)
message  W[i][j] · δ_c[i]                   msg[j], Σ over lanes and groups (exact)
update   δ_c[i] · v_p[j]                    W[i][j] ← sat_W(W[i][j] + rnd(·, shift))
=======  =================================  =====================================

Each lane's multiplier is a registered :class:`~.multiplier.Multiplier` (a DSP with its
input and output registers on the boards). The controller runs each phase as a multi-cycle
micro-step of ``D_max + 1 + LATENCY`` cycles (``fold_cnt`` counts them; the memory read is
registered, so word t's operands reach the multiplier in cycle t + 1 and its product is
used in cycle t + 1 + LATENCY, with the counts and old weights delayed to meet it) right
before the micro-step that consumes its result:

    forward  F0 [PF1] FA1 FF1 .. [PFL] FAL FFL FE FD
    tick     [PM] TE TD            (standard: [PM] TV [PFT] TA TF TE TD)
    update   [PU] UPD

Sums of exact products do not depend on their order, and each weight's update is the
golden formula with the same rounding word (the stochastic mixer takes the element index
e = i·cols + j as a counted signal), so every register equals the golden trace bit for bit
after every tick; only the cycle count changes. The update's saturation bits are collected
over the phase (``w_over``) and merged into the child's flags at UPD, as for the parallel
edge.

The nodes fold too (:class:`FoldedNodePE`): δ = ε ⊙ g runs on ``lanes`` registered
multipliers over ``depth`` + LATENCY cycles of FD and TD, and a tanh or sigmoid node looks
its tables up in block RAM, one element per cycle of FF and TF
(:meth:`~.arith.HdlArith.table_lookup`).

``reuse="serial"`` (:mod:`.serial`: :class:`~.serial.SerialEdgePE`, derived from
:class:`FoldedEdgePE`) puts every edge on one lane and, besides, hands each row sum of a
one-parent node straight to the child as it completes and keeps the message columns in a
memory; ``"serial-spram"`` also puts the weights of edges of at least
:data:`~.folding.SINGLE_PORT_WORDS` in single-port memories (SPRAM on an iCE40UP5K).

The host reaches the weights through the same memory-map addresses: writes go to the
memory's write port (lane-enabled) while the network is idle; reads use its read port
when no phase runs, and appear on ``host_rdata`` one cycle later (the bus reads are
registered for every field, see :mod:`.network`).

Streaming mode is not folded (every node works in every tick there, S1 .. S4):
:func:`~.folding.check_reuse` rejects R > 1 for it. The nodes and edges a folded design
leaves unfolded are :mod:`.parallel`'s, with their registered multipliers: the steps they
multiply in last at least 1 + LATENCY cycles (:func:`~.program.product_depths`) and they
write in the last.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Mux, Signal, signed
from amaranth.lib.memory import Memory

from pcfpga.golden.lfsr import SITE_DELTA, SITE_VHAT

from .arith import BLOCK_RAM, sum_tree
from .multiplier import Multiplier, delayed
from .parallel import NodePE
from .pe import PE, dense_edge, or_tree
from .ports import message_width, partial_width

__all__ = ["FoldedNodePE", "FoldedEdgePE"]


class FoldedNodePE(NodePE):
    """A node whose δ = ε ⊙ g is folded onto ``plan.gate`` = (lanes, depth) multipliers
    and cycles, or whose tanh/sigmoid tables sit in block RAM (``plan.act_table``); its
    other steps are :class:`~.parallel.NodePE`'s."""

    def _act(self, ctx, arith, n, r, step, v):
        """v̂, g ← f(a), f'(a) in ``step`` (and v ← ``v``: the target, "vhat", or None).

        Folded (tanh and sigmoid): one table lookup per cycle from block RAM (a registered
        read port per table): element t's address in the step's cycle t, its result
        written in cycle t + 1, so the step lasts at least size + 1 cycles."""
        if self.plan.act_table is None:
            return super()._act(ctx, arith, n, r, step, v)
        arith.step = step
        cnt = ctx.fold_cnt
        bits = max(1, (n.size - 1).bit_length())
        value, gain, over = arith.table_lookup(n, lambda: Array(r["a"])[cnt[:bits]])
        arith.record(n, SITE_VHAT, over & (cnt >= 1) & (cnt <= n.size))
        for t in range(n.size):
            when = cnt == t + 1
            ctx.put(step, [r["vhat"][t]], [value], when=when)
            ctx.put(step, [r["g"][t]], [gain], when=when)
            if v == "vhat":
                ctx.put(step, [r["v"][t]], [value], when=when)
            elif v is not None:
                ctx.put(step, [r["v"][t]], [v[t]], when=when)

    def _gate(self, ctx, arith, n, r, step, fresh):
        """δ ← sat_E(rnd(ε ⊙ g, n_v)) in ``step``; folded: lane l takes the operands of
        element t·lanes + l in the step's cycle t and writes δ LATENCY cycles later, when
        its registered multiplier has the product (the step lasts ``depth`` + LATENCY
        cycles). A product counts only when its operands were taken in this step."""
        if self.plan.gate is None:
            return super()._gate(ctx, arith, n, r, step, fresh)
        arith.step = step
        lanes, depth = self.plan.gate
        cnt = ctx.fold_cnt
        if "gate_lanes" not in ctx.cache:       # one set of lanes for FD and TD
            ctx.cache["gate_lanes"] = [self._gate_lane(ctx, arith, n, r, cnt, lanes, depth,
                                                       lane) for lane in range(lanes)]
        fresh = ctx.later(ctx.strobe(step), f"gate_{step}")
        for lane, (value, over, late) in enumerate(ctx.cache["gate_lanes"]):
            valid = or_tree([late == t for t in range(depth) if t * lanes + lane < n.size])
            arith.record(n, SITE_DELTA, over & valid & fresh)
            for t in range(depth):
                i = t * lanes + lane
                if i < n.size:
                    ctx.put(step, [r["delta"][i]], [value], when=(late == t) & fresh)

    def _gate_lane(self, ctx, arith, n, r, cnt, lanes, depth, lane):
        """Lane ``lane``'s multiplier, its operands those of cycle ``cnt``: (δ, overflow,
        the cycle its operands were taken in)."""
        idx = [min(t * lanes + lane, n.size - 1) for t in range(depth)]
        eps = Array([r["eps"][i] for i in idx])[cnt[:max(1, (depth - 1).bit_length())]]
        gain = Array([r["g"][i] for i in idx])[cnt[:max(1, (depth - 1).bit_length())]]
        prod = ctx.multiply(eps, gain, f"gate_mul{lane}")       # the lane's one multiplier
        late = ctx.later(cnt, f"gate_cnt{lane}")
        value, over = arith.gate_element(n, prod, late * lanes + lane, name=f"gate_rnd{lane}")
        return value, over, late


class FoldedEdgePE(PE):
    """A dense edge on ``fold.lanes`` multipliers with its weights in a memory (module
    docstring), as the design's plan folds it. Ports as :class:`~.parallel.EdgePE`'s but
    ``regs``, plus ``control.fold_cnt`` (the phase's cycle), ``host_rdata`` and
    ``host_rsel`` (the host's registered weight read). The serial edge
    (:class:`~.serial.SerialEdgePE`) is one with one lane, and changes the hooks marked
    so."""

    #: weights in a single-port memory; the update at half rate (serial-spram)
    single_port = half_update = False

    def __init__(self, design, child: str, parent: str):
        super().__init__(design, child, parent)

    def _check(self, design, child, parent):
        dense_edge(self, design.graph, child, parent)
        self.plan = plan = design.edges[(child, parent)]
        if plan.fold is None:
            raise ValueError(f"{type(self).__name__}: the edge {parent} -> {child} is not "
                             f"folded in this design (use EdgePE)")
        self.fold, self.work = plan.fold, plan.work

    def _build(self, ctx, arith):
        g = self.graph
        c, p = g.node(self.child), g.node(self.parent)
        io = self.plan.flow             # never streaming: v_p and δ_c of this tick
        self._v, self._d = ctx.read(io.forward), ctx.read(io.delta)
        self._fw = partial_width(g, c.name, p.name)
        self._outputs(ctx, message_width(g, c.name, p.name))

    def _outputs(self, ctx, mw):
        """(hook) The accumulators of the row sums and the message columns."""
        fo = self.fold
        self._acc_f = [Signal(signed(self._fw), name=f"fwd_acc{i}") for i in range(fo.rows)]
        ctx.output("fwd", self._acc_f)
        if "msg" in self.work:
            self._acc_m = [Signal(signed(mw), name=f"msg_acc{j}") for j in range(fo.cols)]
            ctx.output("msg", self._acc_m)

    def _v_at(self, j):
        """(hook) v_p[j], the column of the word being processed."""
        return Array(self._v)[j] if self.fold.cols > 1 else self._v[0]

    def _d_at(self, k, grp, lane_rows):
        """(hook) δ_c of lane k's row in row group ``grp``."""
        rows = self.fold.rows
        if len(lane_rows) > 1:
            return Array([self._d[min(i, rows - 1)] for i in lane_rows])[grp]
        return self._d[k]

    def _row_start(self, k):
        """(hook) The value lane k's row sum starts from."""
        return 0

    def _forward(self, m, k, total, run, grp, last, vf):
        """(hook) Lane k's row sum ``total`` is complete at the row's last column (the
        register ``run`` holds it in the cycle after)."""
        fo = self.fold
        for grp_i in range(fo.depth // fo.cols):
            i = grp_i * fo.lanes + k
            if i < fo.rows:
                with m.If(vf & last & (grp == grp_i)):
                    m.d.sync += self._acc_f[i].eq(total)

    def _messages(self, m, ctx, prods, valids, vm, grp, j):
        """(hook) Column j gathers the lanes' products, over the row groups."""
        acc, cols = self._acc_m, self.fold.cols
        current = Array(acc)[j] if cols > 1 else acc[0]
        column = Mux(grp == 0, 0, current) + sum_tree(
            [Mux(v, p, 0) for v, p in zip(valids, prods)])
        for jj in range(cols):
            with m.If(vm & (j == jj)):
                m.d.sync += acc[jj].eq(column)

    def _phase(self, ctx, kind):
        return or_tree([ctx.strobe(ph) for ph in self.work.get(kind, [])])

    def _finish(self, m, ctx, arith):
        g, fo = self.graph, self.fold
        platform = self._platform
        f = g.formats
        Ww = f.weight.width
        M, D, rows, cols = fo.lanes, fo.depth, fo.rows, fo.cols
        groups = D // cols
        c = g.node(self.child)
        rd, wr = self._weight_memory(m, platform, M * Ww, Ww, D)
        cnt = ctx.fold_cnt
        ph_f, ph_m, ph_u = (self._phase(ctx, kind) for kind in ("fwd", "msg", "upd"))
        active = ph_f | ph_m | ph_u
        # the word read this cycle: fold_cnt, or fold_cnt / 2 in a half-rate update
        now = Mux(ph_u, cnt >> 1, cnt) if self.half_update else cnt

        # the host's view: W[i][j] is lane i mod M of word (i div M)·cols + j
        base = self.memmap[self.key].addr
        host = ctx.host
        hit, word, lane = Signal(), Signal(range(max(D, 2))), Signal(range(max(M, 2)))
        if M == 1:                                  # word = element: no decoder
            m.d.comb += [hit.eq((host.addr >= base) & (host.addr < base + D)),
                         word.eq(host.addr - base)]
        else:
            with m.Switch(host.addr):
                for i in range(rows):
                    for j in range(cols):
                        with m.Case(base + i * cols + j):
                            m.d.comb += [hit.eq(1), word.eq((i // M) * cols + j),
                                         lane.eq(i % M)]
        address = Mux(active, now, word)
        # a single-port memory writes word t at its address, in the odd cycles
        vu_late, t_late = Signal(), Signal(range(max(D, 2)))
        if self.single_port:
            address = Mux(vu_late, t_late, address)
        m.d.comb += rd.addr.eq(address)
        hit_q, lane_q = Signal(), Signal.like(lane)
        m.d.sync += [hit_q.eq(hit & ~active), lane_q.eq(lane)]
        words = [rd.data[k * Ww:(k + 1) * Ww].as_signed() for k in range(M)]
        m.d.comb += [self.host_rsel.eq(hit_q), self.host_rdata.eq(Array(words)[lane_q])]

        # the pipeline: word t is read in the cycle fold_cnt = t, its operands go to the
        # lanes' multipliers in the next, where (grp, j) = divmod(t, cols) and
        # ebase = grp·M·cols + j are counted, and its products are used LATENCY cycles later
        t = Signal(range(max(D, 2)))
        vf, vm, vu = Signal(), Signal(), Signal()
        reading = ~cnt[0] if self.half_update else 1       # half rate: even cycles read
        m.d.sync += [t.eq(now), vf.eq(ph_f & (cnt < D)), vm.eq(ph_m & (cnt < D)),
                     vu.eq(ph_u & (now < D) & reading)]
        busy = vf | vm | vu
        grp, j = Signal(range(max(groups, 2))), Signal(range(max(cols, 2)))
        ebase = Signal(range(max(rows * cols + M * cols, 2)))
        with m.If(active & (cnt == 0)):
            m.d.sync += [grp.eq(0), j.eq(0), ebase.eq(0)]
        with m.Elif(busy):
            with m.If(j == cols - 1):
                m.d.sync += [j.eq(0), grp.eq(grp + 1), ebase.eq(ebase + 1 + (M - 1) * cols)]
            with m.Else():
                m.d.sync += [j.eq(j + 1), ebase.eq(ebase + 1)]
        v_sel = self._v_at(j)
        prods, valids = [], []
        for k in range(M):
            lane_rows = [grp_i * M + k for grp_i in range(groups)]
            ok = [i < rows for i in lane_rows]
            d_sel = self._d_at(k, grp, lane_rows)
            valids.append(Array([Const(int(x), 1) for x in ok])[grp] if groups > 1
                          else Const(int(ok[0]), 1))
            op1 = Mux(vu, d_sel, words[k])
            op2 = Mux(vm, d_sel, v_sel)
            mul = m.submodules[f"lane{k}"] = Multiplier(len(op1), len(op2))
            m.d.comb += [mul.a.eq(op1), mul.b.eq(op2)]     # the lane's one multiplier
            prods.append(mul.p)

        # LATENCY cycles later the products arrive: word t's counts, old weights and valid
        # bits, delayed beside its operands, meet them there
        vf, vm, vu, t = (delayed(m, x, f"{n}") for x, n in ((vf, "vf"), (vm, "vm"),
                                                             (vu, "vu"), (t, "t")))
        grp, j, ebase = (delayed(m, x, n) for x, n in ((grp, "grp"), (j, "j"),
                                                        (ebase, "ebase")))
        valids = [delayed(m, x, f"valid{k}") for k, x in enumerate(valids)]
        old = [delayed(m, x, f"w_old{k}") for k, x in enumerate(words)]
        last = j == cols - 1
        new_words, overs = [], []
        for k in range(M):
            new, over = arith.weight_element(c, self.k, old[k], prods[k],
                                             g.learning.shift_theta, ebase + k * cols,
                                             name=f"w_new{k}")
            overs.append(over & valids[k])
            new_words.append(new)

        # forward: lane k sums row grp·M + k over j and writes it at the row's last column
        for k in range(M):
            run = Signal(signed(self._fw), name=f"row_sum{k}")
            total = Mux(j == 0, self._row_start(k), run) + prods[k]
            with m.If(vf):
                m.d.sync += run.eq(total)
            self._forward(m, k, total, run, grp, last, vf)
        if "msg" in self.work:
            self._messages(m, ctx, prods, valids, vm, grp, j)
        with m.If(ph_u & (cnt == 0)):
            m.d.sync += self.w_over.eq(0)
        with m.Elif(vu):
            m.d.sync += self.w_over.eq(self.w_over | or_tree(overs))

        m.d.comb += [vu_late.eq(vu), t_late.eq(t)]
        host_en = [host.we & hit & (lane == k) for k in range(M)]
        m.d.comb += [
            # one address for both ports of a single-port memory (t when vu), whose read
            # data holds while it writes (SPRAM's "no change")
            wr.addr.eq(address if self.single_port else Mux(vu, t, word)),
            wr.data.eq(Mux(vu, Cat(*new_words), Cat(*[host.data[:Ww]] * M))),
            wr.en.eq(Mux(vu, Cat(*valids), Cat(*host_en))),
        ]
        if self.single_port:
            m.d.comb += rd.en.eq(~wr.en.any())

    def _weight_memory(self, m, platform, width, granularity, depth):
        """(hook) The weights' read and write ports: a block-RAM memory of ``depth`` words
        of ``width`` bits, written in lanes of ``granularity``."""
        mem = Memory(shape=width, depth=depth, init=[], attrs=BLOCK_RAM)
        m.submodules.weights = mem
        return mem.read_port(), mem.write_port(granularity=granularity)
