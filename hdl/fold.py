"""Folding: dense edges that time-share a few multipliers and keep their weights in RAM.

A *reuse factor* R (global, or per dense node for the edges into it) folds an edge
p -> c of ``rows × cols`` weights onto ``M = min(rows, ceil(rows·cols / R))`` multiplier
lanes, one per row of a group of M rows. The weights live in a memory
(``amaranth.lib.memory``, block RAM after synthesis) of ``D = ceil(rows / M)·cols`` words
of M lanes: W[i][j] is lane ``i mod M`` of word ``(i div M)·cols + j``, so word t holds
column ``j = t mod cols`` of the rows of group ``t div cols``. A lane keeps one running
row sum for the forward product and the message needs one column adder, which is what
keeps the logic small. The fully parallel :class:`~.pe.EdgePE` is the extreme R = 1; an
R below cols gives M = rows (depth cols).

Each lane has **one** multiplier; its operands are chosen by the phase:

=======  =================================  =====================================
phase    product of lane m at word t        accumulated into
=======  =================================  =====================================
forward  W[i][j] · v_p[j]                   the lane's row sum, then fwd[i] (exact)
message  W[i][j] · δ_c[i]                   msg[j], Σ over lanes and groups (exact)
update   δ_c[i] · v_p[j]                    W[i][j] ← sat_W(W[i][j] + rnd(·, shift))
=======  =================================  =====================================

The controller runs each phase as a multi-cycle micro-step of ``D_max + 1`` cycles
(``fold_cnt`` counts them; the memory read is registered, so word t is processed in cycle
t + 1) right before the one-cycle micro-step that consumes its result:

    forward  F0 [PF1] FA1 FF1 .. [PFL] FAL FFL FE FD
    tick     [PM] TE TD            (standard: [PM] TV [PFT] TA TF TE TD)
    update   [PU] UPD

Sums of exact products do not depend on their order, and each weight's update is the
golden formula with the same rounding word (the stochastic mixer takes the element index
e = i·cols + j as a counted signal), so every register equals the golden trace bit for bit
after every tick; only the cycle count changes. The update's saturation bits are collected
over the phase (``w_over``) and merged into the child's flags at UPD, as for the parallel
edge.

``reuse="serial"`` (:mod:`.serial`) puts every edge on one lane and, besides, hands each
row sum of a one-parent node straight to the child as it completes and keeps the message
columns in a memory; ``"serial-spram"`` also puts the weights of edges of at least
:data:`SINGLE_PORT_WORDS` in single-port memories (SPRAM on an iCE40UP5K).

The host reaches the weights through the same memory-map addresses: writes go to the
memory's write port (lane-enabled) while the network is idle; reads use its read port
when no phase runs, and appear on ``host_rdata`` one cycle later (the bus reads are
registered for every field, see :mod:`.network`).

Streaming mode is not folded (a tick there is one cycle by construction):
``fold_plan`` rejects R > 1 for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from amaranth.hdl import Array, Cat, Const, Mux, Signal, signed
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from pcfpga.golden.engine import node_registers
from pcfpga.golden.lfsr import SITE_W0
from pcfpga.golden.stream import forward_levels

from .arith import BLOCK_RAM, _sum, saturate, single_port_ram
from .pe import _PE, _node_of, _or, message_width, partial_width
from .serial import SERIAL, SERIAL_KINDS, SERIAL_SPRAM, _SerialCtx, serial_phases

__all__ = ["FoldPlan", "EdgeFold", "fold_plan", "FoldedEdgePE", "check_reuse", "MAX_PHASE",
           "SINGLE_PORT_WORDS"]

#: The longest folded phase the controller's 16-bit cycle counter can run.
MAX_PHASE = (1 << 16) - 1


@dataclass(frozen=True)
class EdgeFold:
    """How one edge is folded: ``lanes`` multipliers over ``depth`` memory words."""

    child: str
    parent: str
    rows: int
    cols: int
    lanes: int
    depth: int

    @property
    def reuse(self) -> int:
        return self.depth


@dataclass
class FoldPlan:
    """Folding of a whole graph: per-edge lanes and depth, and the extra phases."""

    edges: dict = field(default_factory=dict)      # (child, parent) -> EdgeFold
    phases: dict = field(default_factory=dict)     # micro-step -> cycles (when above 1)
    work: dict = field(default_factory=dict)       # (child, parent) -> {kind: [phases]}
    gates: dict = field(default_factory=dict)      # node -> (lanes, depth) of δ = ε ⊙ g
    acts: dict = field(default_factory=dict)       # node -> table bits held in block RAM
    serial: bool = False                           # registers in memories (:mod:`.serial`)
    #: serial edges whose weights sit in a single-port memory (SPRAM on an iCE40UP5K);
    #: with any of them, PU runs at half rate: word t read in cycle 2t, written in 2t + 1
    single_port: set = field(default_factory=set)

    @property
    def folded(self) -> bool:
        return bool(self.edges or self.gates or self.acts or self.serial)


def _edge_work(graph, n, p, lv) -> dict:
    """The phases of a folded edge p -> n at forward level ``lv``: {kind: [phases]}."""
    work = {"fwd": [f"PF{lv}"] + (["PFT"] if graph.learning.mode == "standard" else []),
            "upd": ["PU"]}
    if graph.node(p).is_hidden:
        work["msg"] = ["PM"]
    return work


def check_reuse(graph, reuse) -> dict:
    """``reuse`` as {dense node: factor}; a clear error for anything else.

    ``reuse`` is a positive integer (every dense node) or a dict {node: positive integer}
    (nodes not named keep 1, fully parallel), or ``"serial"`` or ``"serial-spram"``
    (:mod:`.serial`: returned as it is).
    """
    dense = [n.name for n in graph.nodes if n.op in ("dense", "act")]
    if isinstance(reuse, str) and reuse in SERIAL_KINDS:
        if graph.learning.mode == "streaming":
            raise ValueError("The serial architecture is not available in streaming mode, "
                             "where every tick is one clock cycle; use reuse 1")
        return reuse
    if isinstance(reuse, bool) or not isinstance(reuse, (int, dict)):
        raise ValueError(f"Reuse factor must be a positive integer, a dict of them per "
                         f"dense or act node, or {SERIAL!r} or {SERIAL_SPRAM!r}, not "
                         f"{reuse!r}")
    table = {n: reuse for n in dense} if isinstance(reuse, int) else dict(reuse)
    for name, r in table.items():
        if name not in dense:
            raise ValueError(f"Reuse factor given for {name!r}, which is not a dense or act "
                             f"node (those are: {', '.join(dense) or 'none'})")
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            raise ValueError(f"Reuse factor must be a positive integer, not {r!r} "
                             f"(node {name!r})")
    if graph.learning.mode == "streaming" and any(r > 1 for r in table.values()):
        raise ValueError("Folding (reuse factor above 1) is not available in streaming mode, "
                         "where every tick is one clock cycle; use reuse 1")
    return {n: table.get(n, 1) for n in dense}


def fold_plan(graph, reuse=1) -> FoldPlan:
    """Lanes, depth and phases for ``reuse`` (see :func:`check_reuse`)."""
    table = check_reuse(graph, reuse)
    if isinstance(table, str):
        return _serial_plan(graph, table == SERIAL_SPRAM)
    plan = FoldPlan()
    level = forward_levels(graph)
    standard = graph.learning.mode == "standard"
    for n in graph.nodes:
        if n.op not in ("dense", "act") or table[n.name] <= 1:
            continue
        if "delta" in node_registers(n, False):
            lanes = math.ceil(n.size / min(table[n.name], n.size))
            depth = math.ceil(n.size / lanes)
            if depth > 1:
                plan.gates[n.name] = (lanes, depth)
                for step in ("FD", "TD"):
                    plan.phases[step] = max(plan.phases.get(step, 1), depth)
        if n.act in ("tanh", "sigmoid"):       # tables in block RAM, a lookup per cycle
            f = graph.formats
            plan.acts[n.name] = (1 << f.table_bits) * (2 * f.value.frac_bits + 2
                                                       + f.value.width - f.value.frac_bits)
            steps = [f"FF{level[n.name]}"] + (["TF"] if standard else [])
            for step in steps:
                plan.phases[step] = max(plan.phases.get(step, 1), n.size + 1)
        if n.op != "dense":
            continue
        for p in n.inputs:
            rows, cols = n.size, graph.node(p).size
            count = rows * cols
            lanes = min(rows, math.ceil(count / min(table[n.name], count)))
            depth = math.ceil(rows / lanes) * cols
            if depth <= 1:
                continue                    # nothing to fold: stays parallel
            plan.edges[(n.name, p)] = EdgeFold(n.name, p, rows, cols, lanes, depth)
            plan.work[(n.name, p)] = work = _edge_work(graph, n, p, level[n.name])
            for names in work.values():
                for ph in names:
                    plan.phases[ph] = max(plan.phases.get(ph, 0), depth + 1)
    longest = max(plan.phases.values(), default=1)
    if longest > MAX_PHASE:
        raise ValueError(f"Reuse factor too large: a folded phase would last {longest:,} "
                         f"cycles, more than the controller's {MAX_PHASE:,}")
    return plan


#: Serial edges of at least this many weights go to a single-port memory, which Yosys maps
#: to an iCE40UP5K's SPRAM (16K words each) instead of 4 or more of its 30 block RAMs.
SINGLE_PORT_WORDS = 1024


def _serial_plan(graph, single_port: bool) -> FoldPlan:
    """Every node step element by element, every dense edge on one lane; with
    ``single_port``, edges of at least :data:`SINGLE_PORT_WORDS` weights keep them in a
    single-port memory."""
    plan = FoldPlan(serial=True, phases=serial_phases(graph))
    plan.single_port = {(n.name, p) for n in graph.nodes if n.op == "dense" for p in n.inputs
                        if single_port and n.size * graph.node(p).size >= SINGLE_PORT_WORDS}
    level = forward_levels(graph)
    for n in graph.nodes:
        if n.op != "dense":
            continue
        for p in n.inputs:
            rows, cols = n.size, graph.node(p).size
            plan.edges[(n.name, p)] = EdgeFold(n.name, p, rows, cols, 1, rows * cols)
            plan.work[(n.name, p)] = work = _edge_work(graph, n, p, level[n.name])
            for names in work.values():
                for ph in names:
                    half = ph == "PU" and plan.single_port
                    plan.phases[ph] = max(plan.phases.get(ph, 0),
                                          (2 if half else 1) * rows * cols + 1)
    longest = max(plan.phases.values())
    if longest > MAX_PHASE:
        raise ValueError(f"Network too large for the serial architecture: a phase would last "
                         f"{longest:,} cycles, more than the controller's {MAX_PHASE:,}")
    return plan


class FoldedEdgePE(_PE):
    """A dense edge on ``fold.lanes`` multipliers with its weights in a memory (module
    docstring). Ports as :class:`~.pe.EdgePE`'s, plus ``fold_cnt`` (the phase's cycle),
    ``host_rdata`` and ``host_rsel`` (the host's registered weight read)."""

    def __init__(self, graph, fold: EdgeFold, work: dict, serial: bool = False,
                 single_port: bool = False, half_update: bool = False):
        c = _node_of(graph, fold.child, self)
        if c.op != "dense" or fold.parent not in c.inputs:
            raise ValueError(f"FoldedEdgePE: {fold.parent!r} -> {fold.child!r} is not a dense "
                             f"edge")
        self._MustUse__silence = False
        self.fold, self.work = fold, work
        if serial:              # v_p[j] and δ_c[i] come from the neighbours' memories
            if fold.lanes != 1:
                raise ValueError(f"A serial edge has one lane, not {fold.lanes}")
            self.serial, self._ctx_class = True, _SerialCtx
        #: weights in a single-port memory (SPRAM); PU at half rate (see FoldPlan)
        self.single_port, self.half_update = single_port, half_update or single_port
        #: serial, one parent: each row's sum goes straight to the child (:mod:`.serial`)
        self.fused = serial and len(c.inputs) == 1
        self.child, self.parent = fold.child, fold.parent
        self.k = c.inputs.index(fold.parent)
        self.key = f"{fold.child}.W.{fold.parent}"
        members = self._setup(graph)
        super().__init__(members)

    fused = single_port = half_update = False

    def _extra_members(self, dry):
        members = {"w_over": Out(1), "fold_cnt": In(16), "host_rdata": Out(32),
                   "host_rsel": Out(1)}
        if self.fused:
            g = self.graph
            members.update({
                "fwd_total": Out(signed(partial_width(g, self.child, self.parent))),
                "fwd_row": Out(16), "fwd_done": Out(1)})
        return members

    def _build(self, ctx, arith):
        g, fo = self.graph, self.fold
        c, p = g.node(self.child), g.node(self.parent)
        self._v = ctx.read(p.name, "v")
        self._d = ctx.read(c.name, "delta")
        for names in self.work.values():
            for ph in names:
                ctx.put(ph, [], [])
        ctx.put("UPD", [], [])
        fw, mw = partial_width(g, c.name, p.name), message_width(g, c.name, p.name)
        self._fw = fw
        if not self.fused:
            self._acc_f = [Signal(signed(fw), name=f"fwd_acc{i}") for i in range(fo.rows)]
            ctx.output("fwd", self._acc_f, (fw, fo.rows))
        if "msg" in self.work and self.serial:      # one column at a time, from a memory
            self._msg_out = Signal(signed(mw), name="msg_out")
            ctx.output("msg", [self._msg_out], (mw, 1))
        elif "msg" in self.work:
            self._acc_m = [Signal(signed(mw), name=f"msg_acc{j}") for j in range(fo.cols)]
            ctx.output("msg", self._acc_m, (mw, fo.cols))

    def _phase(self, kind):
        return _or([getattr(self, f"st_{ph}") for ph in self.work.get(kind, [])])

    def _finish(self, m, arith):
        g, fo = self.graph, self.fold
        platform = self._platform
        f = g.formats
        Ww = f.weight.width
        M, D, rows, cols = fo.lanes, fo.depth, fo.rows, fo.cols
        groups = D // cols
        c = g.node(self.child)
        rd, wr = self._weight_memory(m, platform, M * Ww, Ww, D)
        cnt = self.fold_cnt
        ph_f, ph_m, ph_u = self._phase("fwd"), self._phase("msg"), self._phase("upd")
        active = ph_f | ph_m | ph_u
        # the word read this cycle: fold_cnt, or fold_cnt / 2 in a half-rate update
        now = Mux(ph_u, cnt >> 1, cnt) if self.half_update else cnt

        # the host's view: W[i][j] is lane i mod M of word (i div M)·cols + j
        base = self.memmap[self.key].addr
        hit, word, lane = Signal(), Signal(range(max(D, 2))), Signal(range(max(M, 2)))
        if M == 1:                                  # word = element: no decoder
            m.d.comb += [hit.eq((self.host_addr >= base) & (self.host_addr < base + D)),
                         word.eq(self.host_addr - base)]
        else:
            with m.Switch(self.host_addr):
                for i in range(rows):
                    for j in range(cols):
                        with m.Case(base + i * cols + j):
                            m.d.comb += [hit.eq(1), word.eq((i // M) * cols + j),
                                         lane.eq(i % M)]
        address = Mux(active, now, word)
        m.d.comb += rd.addr.eq(address)
        hit_q, lane_q = Signal(), Signal.like(lane)
        m.d.sync += [hit_q.eq(hit & ~active), lane_q.eq(lane)]
        words = [rd.data[k * Ww:(k + 1) * Ww].as_signed() for k in range(M)]
        m.d.comb += [self.host_rsel.eq(hit_q), self.host_rdata.eq(Array(words)[lane_q])]

        # the pipeline: word t is read in the cycle fold_cnt = t and processed in the next,
        # where (grp, j) = divmod(t, cols) and ebase = grp·M·cols + j are counted
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
        last = j == cols - 1
        v_sel = Array(self._v)[j] if cols > 1 and not self.serial else self._v[0]
        shift = (f.error.frac_bits + f.value.frac_bits + g.learning.shift_theta
                 - f.weight.frac_bits)
        site = SITE_W0 + self.k
        prods, valids, new_words, overs = [], [], [], []
        for k in range(M):
            lane_rows = [grp_i * M + k for grp_i in range(groups)]
            ok = [i < rows for i in lane_rows]
            d_sel = (self._d[0] if self.serial else
                     Array([self._d[min(i, rows - 1)] for i in lane_rows])[grp]
                     if groups > 1 else self._d[k])
            valid = (Array([Const(int(x), 1) for x in ok])[grp] if groups > 1
                     else Const(int(ok[0]), 1))
            op1 = Mux(vu, d_sel, words[k])
            op2 = Mux(vm, d_sel, v_sel)
            prod = Signal(signed(len(op1) + len(op2)), name=f"prod{k}")
            m.d.comb += prod.eq(op1 * op2)      # the lane's one multiplier
            prods.append(prod)
            valids.append(valid)
            new, over = saturate(arith.wire(words[k] + arith._rnd(c, site, prod, shift,
                                                                   ebase + k * cols),
                                            f"w_new{k}"), f.weight)
            overs.append(over & valid)
            new_words.append(new)

        # forward: lane k sums row grp·M + k over j and writes it at the row's last column
        for k in range(M):
            run = Signal(signed(self._fw), name=f"row_sum{k}")
            total = Mux(j == 0, 0, run) + prods[k]
            with m.If(vf):
                m.d.sync += run.eq(total)
            if self.fused:                  # the child takes row grp's sum now
                m.d.comb += [self.fwd_total.eq(total), self.fwd_row.eq(grp),
                             self.fwd_done.eq(vf & last)]
                continue
            for grp_i in range(groups):
                i = grp_i * M + k
                if i < rows:
                    with m.If(vf & last & (grp == grp_i)):
                        m.d.sync += self._acc_f[i].eq(total)
        # message: column j gathers the lanes' products, over the row groups
        if "msg" in self.work and self.serial:
            self._serial_messages(m, prods[0], vm, grp, j)
        elif "msg" in self.work:
            acc = self._acc_m
            current = Array(acc)[j] if cols > 1 else acc[0]
            column = Mux(grp == 0, 0, current) + _sum(
                [Mux(v, p, 0) for v, p in zip(valids, prods)])
            for jj in range(cols):
                with m.If(vm & (j == jj)):
                    m.d.sync += acc[jj].eq(column)
        with m.If(ph_u & (cnt == 0)):
            m.d.sync += self.w_over.eq(0)
        with m.Elif(vu):
            m.d.sync += self.w_over.eq(self.w_over | _or(overs))

        host_en = [self.host_we & hit & (lane == k) for k in range(M)]
        m.d.comb += [
            # one address for both ports of a single-port memory (t equals it when vu), whose
            # read data holds while it writes (SPRAM's "no change")
            wr.addr.eq(address if self.single_port else Mux(vu, t, word)),
            wr.data.eq(Mux(vu, Cat(*new_words), Cat(*[self.host_data[:Ww]] * M))),
            wr.en.eq(Mux(vu, Cat(*valids), Cat(*host_en))),
        ]
        if self.single_port:
            m.d.comb += rd.en.eq(~wr.en.any())

    def _weight_memory(self, m, platform, width, granularity, depth):
        """The weights' read and write ports: a block-RAM memory, or for a single-port edge
        on an iCE40UP5K platform an SB_SPRAM256KA (:func:`~.arith.single_port_ram`)."""
        if self.single_port and width == 16:
            ports = single_port_ram(m, platform, "weights", width, depth)
            if ports:
                return ports
        mem = Memory(shape=width, depth=depth, init=[], attrs=BLOCK_RAM)
        m.submodules.weights = mem
        return mem.read_port(), mem.write_port(granularity=granularity)

    def _serial_messages(self, m, prod, vm, grp, j):
        """Serial edges: message column j accumulates over the rows in a memory
        (read-modify-write: column j is read while the word before it is processed, so a
        read never meets the write of its own address when there are two columns or more);
        the parent reads column t of it in its relaxation step. One column: a register."""
        cols = self.fold.cols
        if cols == 1:
            acc = Signal.like(self._msg_out, name="msg_acc")
            with m.If(vm):
                m.d.sync += acc.eq(Mux(grp == 0, 0, acc) + prod)
            m.d.comb += self._msg_out.eq(acc)
            return
        mem = Memory(shape=self._msg_out.shape(), depth=cols, init=[], attrs=BLOCK_RAM)
        m.submodules.messages = mem
        rd, wr = mem.read_port(), mem.write_port()
        cnt = self.fold_cnt
        bits = max(1, (cols - 1).bit_length())
        col = Signal(range(cols), name="msg_col")          # column of word fold_cnt
        ahead = Mux(cnt == 0, 0, col)
        m.d.sync += col.eq(Mux(ahead == cols - 1, 0, ahead + 1))
        m.d.comb += [rd.addr.eq(Mux(self._phase("msg"), ahead, cnt[:bits])),
                     self._msg_out.eq(rd.data),
                     wr.addr.eq(j), wr.data.eq(Mux(grp == 0, 0, rd.data) + prod),
                     wr.en.eq(vm)]
