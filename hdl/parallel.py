"""The parallel architecture: every element and every weight in its own logic.

* :class:`InputPE`: the host's input buffer ``in.{x}`` and the value v.
* :class:`NodePE`: a dense, act, add or mul node: v, a, v̂, g (f'), ε, δ, (streaming: y
  and delay lines), the bias, an output's target buffer, the sticky saturation flags; its
  prediction (from its parents' values, or for dense nodes from the edges' partial
  products), its error and its relaxation (from its children's messages).
* :class:`EdgePE`: the weights W of one dense edge p -> i, the forward product
  ``W v_p`` (exact, to node i), the backward product ``Wᵀ δ_i`` (exact, to node p) and the
  local update ``W += η_θ δ_i v_pᵀ``.

A mul node computes the messages ``v_q ⊙ ε`` for its parents; act and add nodes send their
δ or ε as they are. Streaming mode (a tick = S1 .. S4) is built here too.

Every product is a registered :class:`~.multiplier.Multiplier` (``HdlArith.times`` through
:meth:`~.pe.BuildContext.multiply`: on the boards a DSP registered at its inputs and output,
and one per pair of operand signals, so FD and TD share the gate's). The operands are
registers, which hold still during a micro-step because every register is written at the
end of its step's last cycle (``control.last``); a step that multiplies lasts 1 + LATENCY
cycles, so the products have come in its last (1 + 2·LATENCY in streaming S1 when the
relaxed ε, itself made of products, is gated into δ: :func:`~.program.product_depths`).
Its overflow bits count only in that cycle (``HdlArith.settled``), as its writes do. A step
that looks up a tanh or sigmoid table lasts two cycles (a registered block-RAM read per
element: :func:`~.program.table_steps`); every other step lasts one cycle. The folded
(:mod:`.fold`) and serial (:mod:`.serial`) architectures derive from these classes and
change how a step walks its elements; the machinery they share (declared interfaces, the
build context) is :mod:`.pe`'s.
"""

from __future__ import annotations

from amaranth.hdl import Const, Mux, Signal

from pcfpga.golden.dataflow import Via
from pcfpga.golden.fields import flags_field, input_field, target_field
from pcfpga.golden.lfsr import SITE_W0

from .arith import sum_tree
from .memmap import WORD_BITS
from .pe import PE, dense_edge, node_of, or_tree, shift_lines
from .program import Step

__all__ = ["InputPE", "NodePE", "EdgePE"]


class InputPE(PE):
    """An input node: the host's buffer ``in.{x}`` and the clamped value v."""

    own = ("v",)

    def __init__(self, design, name: str):
        super().__init__(design, name)

    def _check(self, design, name):
        node = node_of(design.graph, name)
        if node.op != "input":
            raise ValueError(f"InputPE is for input nodes; {name!r} is a {node.op} node "
                             f"(use NodePE)")
        self.owner = name
        self.plan = design.nodes[name]

    def _build(self, ctx, arith):
        buf, v = ctx.regs("in"), ctx.regs("v")
        if self.streaming:
            ctx.put(Step.S1, v, [Mux(ctx.bubble, 0, x) for x in buf])
            shift_lines(ctx, self.owner, self.lags, Step.S1)
        else:
            ctx.put(Step.F0, v, buf)

    def _finish(self, m, ctx, arith):
        """The flag word of an input is the host's: it quantises the data (bit v)."""
        with m.If(ctx.clear):
            m.d.sync += self.regs.sat.eq(0)
        self._host_writes(m, ctx, {input_field(self.owner): list(ctx.regs("in")),
                                   flags_field(self.owner): [self.regs.sat]})


class NodePE(PE):
    """A dense, act, add or mul node (module docstring)."""

    def __init__(self, design, name: str):
        super().__init__(design, name)

    def _check(self, design, name):
        node = node_of(design.graph, name)
        if node.op == "input":
            raise ValueError(f"NodePE is for dense, act, add and mul nodes; {name!r} is an "
                             f"input (use InputPE)")
        self.owner = name
        self.plan = design.nodes[name]
        self.own = self.plan.own

    def _build(self, ctx, arith):
        n = self.graph.node(self.owner)
        r = {reg: ctx.regs(reg) for reg in self.own}
        b = ctx.regs("b") if n.bias else None
        target = ctx.regs("target") if n.output else None
        if self.streaming:
            self._build_stream(ctx, arith, n, r, b, target)
        else:
            self._build_steps(ctx, arith, n, r, b, target)
        self._mul_messages(ctx, arith, n)

    def _predict(self, ctx, arith, n, r, b):
        """a (dense, act) or v̂ (add, mul) from the parents (the edges' products, or the
        plan's ``inputs``): {register: values}."""
        if n.op == "dense":
            parts = [ctx.partial(p) for p in n.inputs]
            rows = [[part[i] for part in parts] for i in range(len(parts[0]))]
            return {"a": arith.dense_sum(n, rows, b)}
        vals = [ctx.read(x) for x in self.plan.inputs]
        if n.op == "act":
            return {"a": vals[0]}
        if n.op == "add":
            return {"vhat": arith.add(n, vals)}
        return {"vhat": arith.mul(n, vals[0], vals[1])}

    def _terms(self, ctx, arith, n):
        """The exact message of every child (the plan's ``terms``): (values, fraction
        bits); a dense or mul child's comes computed through its port."""
        f = self.graph.formats
        terms = []
        for m in self.plan.terms:
            if m.via is Via.DENSE:
                terms.append((ctx.message(m.child), f.weight.frac_bits + f.error.frac_bits))
            elif m.via is Via.MUL:
                terms.append((ctx.message(m.child), f.value.frac_bits + f.error.frac_bits))
            else:
                terms.append(arith.t_id(ctx.read(m.error)))
        return terms

    def _message_started(self, arith, n) -> bool:
        """(hook) Whether the one message to ``n`` was summed from its rounding offset
        (:meth:`~.arith.HdlArith.message_start`; the serial edges do it)."""
        return False

    def _build_steps(self, ctx, arith, n, r, b, target):
        g = self.graph
        lv = self.design.levels[n.name]
        fa, ff = Step.fa(lv), Step.ff(lv)
        arith.step = fa
        pred = self._predict(ctx, arith, n, r, b)
        for reg, vals in pred.items():
            ctx.put(fa, r[reg], vals)
        if n.op in ("add", "mul"):
            ctx.put(fa, r["v"], target if n.output else pred["vhat"])
        else:
            self._act(ctx, arith, n, r, ff, target if n.output else "vhat")
        self._error_gate(ctx, arith, n, r, Step.FE, Step.FD)
        mode = g.learning.mode
        if n.is_hidden:
            terms = self._terms(ctx, arith, n)
            if mode in ("exact", "fpa"):
                arith.step = Step.TE
                eps = arith.relax(n, "eps", r["eps"], r["eps"], terms, g.learning.shift_v,
                                  started=self._message_started(arith, n))
                ctx.put(Step.TE, r["eps"], eps)
                if "delta" in r:
                    self._gate(ctx, arith, n, r, Step.TD, eps)
            else:
                arith.step = Step.TV
                ctx.put(Step.TV, r["v"], arith.relax(n, "v", r["v"], r["eps"], terms,
                                                     g.learning.shift_v))
        if mode == "standard":
            arith.step = Step.TA
            pred = self._predict(ctx, arith, n, r, b)
            for reg, vals in pred.items():
                ctx.put(Step.TA, r[reg], vals)
            if n.op in ("dense", "act"):
                self._act(ctx, arith, n, r, Step.TF, None)
            self._error_gate(ctx, arith, n, r, Step.TE, Step.TD)
        if b is not None:
            arith.step = Step.UPD
            ctx.put(Step.UPD, b, arith.update_b(n, b, r["delta"], g.learning.shift_theta))

    def _act(self, ctx, arith, n, r, step, v):
        """v̂, g ← f(a), f'(a) in ``step`` (and v ← ``v``: the target, "vhat", or None)."""
        arith.step = step
        vhat, gain = arith.act(n, r["a"])
        ctx.put(step, r["vhat"], vhat)
        ctx.put(step, r["g"], gain)
        if v is not None:
            ctx.put(step, r["v"], vhat if v == "vhat" else v)

    def _error_gate(self, ctx, arith, n, r, se, sd):
        arith.step = se
        eps = arith.error(n, r["v"], r["vhat"])
        ctx.put(se, r["eps"], eps)
        if "delta" in r:
            self._gate(ctx, arith, n, r, sd, eps)

    def _gate(self, ctx, arith, n, r, step, fresh):
        """δ ← sat_E(rnd(ε ⊙ g, n_v)) in ``step``, from the ε register (``fresh``: the ε
        values the step before writes, which the serial architecture gates in that step)."""
        arith.step = step
        ctx.put(step, r["delta"], arith.gate(n, r["eps"], r["g"]))

    def _build_stream(self, ctx, arith, n, r, b, target):
        g, plan = self.graph, self.plan
        arith.step = Step.S1
        pred = self._predict(ctx, arith, n, r, b)
        for reg, vals in pred.items():
            ctx.put(Step.S1, r[reg], vals)
        if n.op in ("add", "mul") and not n.output:
            ctx.put(Step.S1, r["v"], pred["vhat"])
        if n.output:
            ctx.put(Step.S1, r["y"], [Mux(ctx.bubble, 0, x) for x in target])
            ctx.put(Step.S1, r["v"], ctx.read(plan.target))
        if n.is_hidden:
            terms = self._terms(ctx, arith, n)
            zero = arith.zeros(n.size)
            eps = arith.relax(n, "eps", zero, zero, terms, g.learning.shift_v)
            ctx.put(Step.S1, r["eps"], eps)
            if "delta" in r:
                gain = ctx.read(plan.gain)
                ctx.put(Step.S1, r["delta"], arith.gate(n, eps, gain))
        if b is not None:
            ok = ctx.valid(plan.bias_offset)
            arith.enable = ok
            new = arith.update_b(n, b, r["delta"], g.learning.shift_theta)
            arith.enable = None
            ctx.put(Step.S1, b, [Mux(ok, x, old) for x, old in zip(new, b)])
        shift_lines(ctx, n.name, self.lags, Step.S1)
        if n.op in ("dense", "act"):
            arith.step = Step.S2
            vhat, gain = arith.act(n, r["a"])
            ctx.put(Step.S2, r["vhat"], vhat)
            ctx.put(Step.S2, r["g"], gain)
            if not n.output:
                ctx.put(Step.S2, r["v"], vhat)
        if n.output:
            self._error_gate(ctx, arith, n, r, Step.S3, Step.S4)

    def _mul_messages(self, ctx, arith, n):
        """A mul node sends v_q ⊙ ε to each hidden parent (exact; the plan's
        ``outgoing``)."""
        for m in self.plan.outgoing:
            vals, _ = arith.t_mul(ctx.read(m.other), ctx.read(m.error), f"msg_{m.parent}")
            ctx.output(m.parent, vals)

    def _finish(self, m, ctx, arith):
        self._finish_flags(m, ctx, arith)

    def _finish_flags(self, m, ctx, arith):
        n = self.graph.node(self.owner)
        sat = self.regs.sat
        masks = []
        for (step, _, bit), bits in arith.overflows.items():
            any_bit = bits[0]
            for x in bits[1:]:
                any_bit = any_bit | x
            masks.append(ctx.strobe(step) & any_bit)
            masks[-1] = masks[-1] << bit
        if n.op == "dense":             # the edges' update saturation, in their step
            upd = ctx.strobe(Step.S1 if self.streaming else Step.UPD)
            masks += [(upd & over) << (SITE_W0 + k) for k, over in enumerate(ctx.w_over)]
        # the bits a cycle later: the OR into the sticky flags does not meet the saturations
        pending = Signal(WORD_BITS, name="sat_pending")
        m.d.sync += pending.eq(or_tree(masks) if masks else Const(0, WORD_BITS))
        with m.If(ctx.clear):
            m.d.sync += sat.eq(0)
        with m.Else():
            m.d.sync += sat.eq(sat | pending)
        fields = {flags_field(n.name): [sat]}
        if not self.serial:             # else memories, written by :mod:`.serial`
            if n.bias:
                fields[f"{n.name}.b"] = list(ctx.regs("b"))
            if n.output:
                fields[target_field(n.name)] = list(ctx.regs("target"))
        self._host_writes(m, ctx, fields)


class EdgePE(PE):
    """The weights of one dense edge parent -> child and their three products."""

    def __init__(self, design, child: str, parent: str):
        super().__init__(design, child, parent)

    def _check(self, design, child, parent):
        dense_edge(self, design.graph, child, parent)
        if (child, parent) in design.plan.edges:
            raise ValueError(f"EdgePE: the edge {parent} -> {child} is folded in this design "
                             f"(use FoldedEdgePE)")
        self.plan = design.edges[(child, parent)]

    def _build(self, ctx, arith):
        g = self.graph
        c, p = g.node(self.child), g.node(self.parent)
        rows, cols = c.size, p.size
        W = list(ctx.regs("W"))
        Wm = [W[i * cols:(i + 1) * cols] for i in range(rows)]
        io = self.plan.flow                         # the reads, as the golden model's
        v_fwd = ctx.read(io.forward)
        d_bwd = ctx.read(io.backward) if io.backward is not None else None
        d_upd, v_upd = ctx.read(io.delta), ctx.read(io.value)
        step, ok = (Step.S1, ctx.valid(io.offset)) if self.streaming else (Step.UPD, None)
        ctx.output("fwd", [sum_tree([arith.times(Wm[i][j], v_fwd[j], f"fwd_mul{i}_{j}")
                                     for j in range(cols)]) for i in range(rows)])
        if d_bwd is not None:
            vals, _ = arith.t_dense(Wm, d_bwd)
            ctx.output("msg", vals)
        arith.step, arith.enable = step, ok
        new = arith.update_w(c, self.k, Wm, d_upd, v_upd, g.learning.shift_theta)
        arith.enable = None
        flat = [x for row in new for x in row]
        if ok is not None:
            flat = [Mux(ok, x, old) for x, old in zip(flat, W)]
        ctx.put(step, W, flat)

    def _finish(self, m, ctx, arith):
        bits = [b for (_, _, _), bs in arith.overflows.items() for b in bs]
        m.d.comb += self.w_over.eq(or_tree(bits) if bits else 0)
        self._host_writes(m, ctx, {self.key: list(self.regs.W)})
