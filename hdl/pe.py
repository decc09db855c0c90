"""Processing elements: one per graph node, and edge hardware per dense edge.

Each PE is a ``wiring.Component`` that holds its own registers and sees only its
neighbours:

* :class:`InputPE`: the host's input buffer ``in.{x}`` and the value v.
* :class:`NodePE`: a dense, act, add or mul node: v, a, v̂, g (f'), ε, δ, (streaming: y
  and delay lines), the bias, an output's target buffer, the sticky saturation flags; its
  prediction (from its parents' values, or for dense nodes from the edges' partial
  products), its error and its relaxation (from its children's messages).
* :class:`EdgePE`: the weights W of one dense edge p -> i, the forward product
  ``W v_p`` (exact, to node i), the backward product ``Wᵀ δ_i`` (exact, to node p) and the
  local update ``W += η_θ δ_i v_pᵀ``.

A mul node computes the messages ``v_q ⊙ ε`` for its parents; act and add nodes send their
δ or ε as they are. Every formula is :class:`~pcfpga.hdl.arith.HdlArith`'s, i.e. the
golden ``FixedArith``'s; every write happens in the controller's micro-step of the golden
engine's phase (:mod:`.controller`).

**Ports are declared.** A PE's interface is its plan in the :class:`~.design.Design`
(:class:`~.design.NodePlan`, :class:`~.design.EdgePlan`: the steps it writes in, the
registers it reads and at which lag, its partial products and messages), made into a
``wiring.Signature`` (:class:`~.ports.PESignature`) before anything is built. Its datapath
is written once, as a builder that asks its context for what it needs (``read(node, reg,
lag)``, ``partial(parent)``, ``message(child)``, ``output(name, values)``) and writes
registers in micro-steps (``put``); the context hands out declared ports only, and after the
builder has run every declared port must have been used (:class:`~.ports.InterfaceError`
otherwise), so a PE's interface and logic cannot disagree. Reads at a lag L > 0
(streaming) are taps of the producer's delay line.

Every PE takes the :class:`~.design.Design` (a graph is made into a fully parallel one),
which holds the memory map, the schedule, the folding and the plans: nothing is derived per
PE.
Parameters are checked first, e.g. ``NodePE(design, "x")`` for an input node raises
"NodePE is for dense, act, add and mul nodes; 'x' is an input (use InputPE)".
"""

from __future__ import annotations

from amaranth.hdl import Array, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory

from pcfpga.golden.activations import ActTable
from pcfpga.golden.lfsr import SITE_DELTA, SITE_VHAT, SITE_W0

from .arith import HdlArith, _sum, table_index
from .design import Read, Step, as_design
from .memmap import WORD_BITS
from .ports import (InterfaceError, PESignature, message_width, partial_width,
                    register_shape)

__all__ = ["InputPE", "NodePE", "EdgePE", "register_shape", "message_width",
           "partial_width", "COMB"]

#: ``ctx.writes`` entries of combinational outputs (every other entry names its Step).
COMB = "comb"


class Register(list):
    """The signals of one of the PE's own registers (``reg``: its name)."""

    def __init__(self, reg, signals):
        super().__init__(signals)
        self.reg = reg


class _Ctx:
    """What a builder may use: the PE's declared ports (its plan), and nothing else."""

    def __init__(self, pe):
        self.pe, self.plan = pe, pe.plan
        self.used = set()
        self.writes, self.combs = [], []

    def _use(self, kind, declared, item):
        if item not in declared:
            raise InterfaceError(f"{self.pe.describe()}: its datapath {kind} {item}, which "
                                 f"its interface does not declare")
        self.used.add((kind, item))

    def check_used(self):
        """Every declared step, read, partial product, message and output was used."""
        plan = self.plan
        declared = ([("writes in", s) for s in plan.steps]
                    + [("reads", r) for r in plan.reads]
                    + [("takes the forward products of", p)
                       for p in getattr(plan, "partials", ())]
                    + [("takes the message of", c) for c in getattr(plan, "messages", ())]
                    + [("sends", x) for x in plan.sends]
                    + [("uses", x) for x in ("bubble", "presented") if getattr(plan, x)])
        unused = [f"{kind} {item}" for kind, item in declared if (kind, item) not in self.used]
        if unused:
            raise InterfaceError(f"{self.pe.describe()}: its interface declares what its "
                                 f"datapath does not use: {'; '.join(unused)}")

    def regs(self, reg) -> Register:
        """The PE's own register ``reg`` (or its buffers: ``in``, ``b``, ``target``)."""
        return Register(reg, getattr(self.pe, f"r_{reg}"))

    def line(self, reg) -> list:
        return list(getattr(self.pe, f"line_{reg}"))

    def read(self, node, reg, lag=0):
        """Register ``reg`` of ``node`` as it was ``lag`` ticks before this one."""
        pe = self.pe
        if node == pe.owner and reg in pe.own:
            if lag == 0:
                return self.regs(reg)
            size = pe.graph.node(node).size
            return self.line(reg)[(lag - 1) * size:lag * size]
        r = Read(node, reg, lag)
        self._use("reads", self.plan.reads, r)
        return list(getattr(pe, r.port))

    def partial(self, parent):
        """The exact forward product W v_parent from the edge (dense nodes)."""
        self._use("takes the forward products of", self.plan.partials, parent)
        return list(getattr(self.pe, f"fwd_{parent}").data)

    def message(self, child):
        """The exact message of a child (dense children: from the edge; mul: from the mul
        node); act and add children's messages are their δ / ε, read directly."""
        self._use("takes the message of", self.plan.messages, child)
        return list(getattr(self.pe, f"msg_{child}").data)

    def send(self, key, name=None):
        """The output interface ``name`` (default ``key``) of declared output ``key``."""
        self._use("sends", self.plan.sends, key)
        return getattr(self.pe, name or key)

    def output(self, name, values, key=None):
        """Drive output vector ``name`` (a message or a partial product) with ``values``."""
        port = self.send(key or name, name)
        self.writes.append((COMB, list(port.data), list(values), None))

    def strobe(self, step):
        """The strobe of a declared step (for datapaths that run through a whole step)."""
        self._use("writes in", self.plan.steps, step)
        return self.pe.strobe(step)

    def put(self, step, targets, values, when=None):
        """Write ``targets`` in micro-step ``step`` (in the cycles where ``when`` holds,
        for the multi-cycle steps of folded datapaths)."""
        self._use("writes in", self.plan.steps, step)
        self.writes.append((step, targets, list(values), when))

    def valid(self, u):
        """A sample entered u ticks before the current one (streaming)."""
        if u == 0:
            return ~self.bubble
        self._use("uses", ("presented",) if self.plan.presented else (), "presented")
        return self.pe.presented[u - 1]

    @property
    def bubble(self):
        self._use("uses", ("bubble",) if self.plan.bubble else (), "bubble")
        return self.pe.bubble


class _PE(wiring.Component):
    """Common machinery: check the parameters against the design, declare the interface
    from the PE's plan, then build the micro-step writes."""

    owner = None
    own = ()
    #: element-serial (registers in memories, :mod:`.serial`): reads are one element
    serial = False
    _ctx_class = _Ctx
    #: the folding a PE given a graph instead of a design is built with
    _default_reuse = 1

    def __init__(self, design, *names):
        try:
            design = as_design(design, self._default_reuse, who="A PE")
            self._check(design, *names)
            if design.serial != self.serial:
                raise ValueError(f"{type(self).__name__} is not for the "
                                 f"{design.architecture.value} architecture")
        except (TypeError, ValueError):
            self._MustUse__silence = True       # rejected: not a design to warn about
            raise
        self.design = design
        self.graph = design.graph
        self.streaming = design.streaming
        self.sched = design.schedule
        self.lags = design.lags
        self.memmap = design.memmap
        super().__init__(PESignature(design, self.plan))

    def _check(self, design, *names):
        """Check the parameters and set the PE's own attributes and ``plan`` (per class)."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"{type(self).__name__} {self.owner or f'{self.parent} -> {self.child}'}"

    def strobe(self, step):
        """The input strobe of micro-step ``step``."""
        return getattr(self, f"st_{step}")

    def elaborate(self, platform):
        m = Module()
        ctx = self._ctx_class(self)
        arith = HdlArith(self.graph, self.lfsr)
        self._prepare(m, ctx, arith)
        self._build(ctx, arith)
        self._apply_writes(m, ctx)
        self._platform = platform
        for signal, value in ctx.combs:
            m.d.comb += signal.eq(value)
        for i, (mem, ports) in enumerate(arith.roms):
            m.submodules[f"rom{i}"] = mem
            m.d.comb += [port.addr.eq(addr) for port, addr in ports]
        self._finish(m, ctx, arith)
        ctx.check_used()
        for signal, value in arith.combs:       # last: _finish may build datapaths too
            m.d.comb += signal.eq(value)
        return m

    def _prepare(self, m, ctx, arith):
        """Before the builder runs."""

    def _apply_writes(self, m, ctx):
        """Each ``put``: the targets take their values at the clock edge of the step."""
        for step, targets, values, when in ctx.writes:
            if step == COMB:
                m.d.comb += [t.eq(v) for t, v in zip(targets, values)]
                continue
            strobe = self.strobe(step)
            with m.If(strobe if when is None else strobe & when):
                m.d.sync += [t.eq(v) for t, v in zip(targets, values)]

    def _finish(self, m, ctx, arith):
        pass

    def _host_writes(self, m, fields: dict):
        """Host writes into this PE's rw fields: {memmap name: list of signals}.

        One address comparison per signal, not one ``Switch``: the addresses are distinct,
        and Amaranth writes a signal assigned in case k of a switch as a switch with cases
        0..k (the cases before it decide too), so N signals were N²/2 cases (524,800 for
        the 1,024 weights of digits' first edge, 25 MB of its Verilog)."""
        host = self.host
        with m.If(host.we):
            for name, sigs in fields.items():
                f = self.memmap[name]
                for i, s in enumerate(sigs):
                    with m.If(host.addr == f.addr + i):
                        m.d.sync += s.eq(host.data[:len(s)])


class InputPE(_PE):
    """An input node: the host's buffer ``in.{x}`` and the clamped value v."""

    own = ("v",)

    def __init__(self, design, name: str):
        super().__init__(design, name)

    def _check(self, design, name):
        node = _node_of(design.graph, name)
        if node.op != "input":
            raise ValueError(f"InputPE is for input nodes; {name!r} is a {node.op} node "
                             f"(use NodePE)")
        self.owner = name
        self.plan = design.nodes[name]

    def _build(self, ctx, arith):
        buf, v = ctx.regs("in"), ctx.regs("v")
        if self.streaming:
            ctx.put(Step.S1, v, [Mux(ctx.bubble, 0, x) for x in buf])
            _shift_lines(ctx, self.owner, self.lags, Step.S1)
        else:
            ctx.put(Step.F0, v, buf)

    def _finish(self, m, ctx, arith):
        """The flag word of an input is the host's: it quantises the data (bit v)."""
        with m.If(self.clear):
            m.d.sync += self.r_sat.eq(0)
        self._host_writes(m, {f"in.{self.owner}": list(self.r_in),
                              f"{self.owner}.sat": [self.r_sat]})


class NodePE(_PE):
    """A dense, act, add or mul node (module docstring)."""

    def __init__(self, design, name: str):
        super().__init__(design, name)

    def _check(self, design, name):
        node = _node_of(design.graph, name)
        if node.op == "input":
            raise ValueError(f"NodePE is for dense, act, add and mul nodes; {name!r} is an "
                             f"input (use InputPE)")
        self.owner = name
        self.plan = plan = design.nodes[name]
        #: (lanes, depth): δ = ε ⊙ g on ``lanes`` multipliers over ``depth`` cycles
        self.gate_fold = plan.gate
        #: tables in block RAM, one lookup per cycle (tanh, sigmoid), or None
        self.act_fold = plan.act_table
        self._act_roms = []
        self.own = plan.own

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

    def _predict(self, ctx, arith, n, r, b, lags=None):
        """a (dense, act) or v̂ (add, mul) from the parents: {register: values}."""
        lag = (lambda p: lags[p]) if lags else (lambda p: 0)
        if n.op == "dense":
            parts = [ctx.partial(p) for p in n.inputs]
            acc = [_sum([part[i] for part in parts]) for i in range(len(parts[0]))]
            return {"a": arith.dense_sum(n, acc, b)}
        vals = [ctx.read(p, "v", lag(p)) for p in n.inputs]
        if n.op == "act":
            return {"a": vals[0]}
        if n.op == "add":
            return {"vhat": arith.add(n, vals)}
        return {"vhat": arith.mul(n, vals[0], vals[1])}

    def _terms(self, ctx, arith, n, lag_of=None):
        """The exact messages of every child: (values, fraction bits)."""
        g = self.graph
        f = g.formats
        terms = []
        for c in g.children(n.name):
            lag = lag_of(c) if lag_of else 0
            if c.op == "dense":
                terms.append((ctx.message(c.name), f.weight.frac_bits + f.error.frac_bits))
            elif c.op == "mul":
                terms.append((ctx.message(c.name), f.value.frac_bits + f.error.frac_bits))
            elif c.op == "act":
                terms.append(arith.t_id(ctx.read(c.name, "delta", lag)))
            else:
                terms.append(arith.t_id(ctx.read(c.name, "eps", lag)))
        return terms

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
                ctx.put(Step.TE, r["eps"], arith.relax(n, "eps", r["eps"], r["eps"], terms,
                                                       g.learning.shift_v))
                if "delta" in r:
                    self._gate(ctx, arith, n, r, Step.TD)
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
        """v̂, g ← f(a), f'(a) in ``step`` (and v ← ``v``: the target, "vhat", or None).

        Folded (``act_fold``, tanh and sigmoid): one table lookup per cycle from block RAM
        (a registered read port per table): element t's address in the step's cycle t,
        its result written in cycle t + 1, so the step lasts at least size + 1 cycles."""
        arith.step = step
        if self.act_fold is None:
            vhat, gain = arith.act(n, r["a"])
            ctx.put(step, r["vhat"], vhat)
            ctx.put(step, r["g"], gain)
            if v is not None:
                ctx.put(step, r["v"], vhat if v == "vhat" else v)
            return
        cnt = self.fold_cnt
        bits = max(1, (n.size - 1).bit_length())
        value, gain, over = self._table_lookup(ctx, arith, n, lambda: Array(r["a"])[cnt[:bits]])
        arith.record(n, SITE_VHAT, over & (cnt >= 1) & (cnt <= n.size))
        for t in range(n.size):
            when = cnt == t + 1
            ctx.put(step, [r["vhat"][t]], [value], when=when)
            ctx.put(step, [r["g"][t]], [gain], when=when)
            if v == "vhat":
                ctx.put(step, [r["v"][t]], [value], when=when)
            elif v is not None:
                ctx.put(step, [r["v"][t]], [v[t]], when=when)

    def _table_lookup(self, ctx, arith, n, element):
        """(v̂, g, overflow) of the tanh/sigmoid entry of pre-activation ``element()``, read
        from block RAM (registered: a cycle after the address); one pair of tables per
        node, shared by its steps."""
        if getattr(ctx, "_act_rom", None) is None:
            f = self.graph.formats
            V = f.value
            table = ActTable.build(n.act, V, f.table_bits)
            x = Value.cast(element())
            if not isinstance(x, Signal):           # a multiplexer, used thrice
                ctx.combs.append((Signal(x.shape(), name="act_in"), x))
                x = ctx.combs[-1][0]
            addr = table_index(table, x)
            mems = (Memory(shape=signed(V.width), depth=len(table.f),
                           init=[int(x) for x in table.f]),
                    Memory(shape=signed(f.gain.width), depth=len(table.df),
                           init=[int(x) for x in table.df]))
            ports = [mem.read_port() for mem in mems]
            self._act_roms = [(mem, port, addr) for mem, port in zip(mems, ports)]
            data = tuple(port.data for port in ports)
            value, over = arith.table_value(n, data[0])
            ctx._act_rom = (value, data[1], over)
        return ctx._act_rom

    def _error_gate(self, ctx, arith, n, r, se, sd):
        arith.step = se
        ctx.put(se, r["eps"], arith.error(n, r["v"], r["vhat"]))
        if "delta" in r:
            self._gate(ctx, arith, n, r, sd)

    def _gate(self, ctx, arith, n, r, step):
        """δ ← sat_E(rnd(ε ⊙ g, n_v)) in ``step``; folded: element t·lanes + l by lane l in
        the step's cycle t (the step lasts at least ``depth`` cycles; rewriting a δ with
        the same inputs is idempotent, flags included)."""
        arith.step = step
        if self.gate_fold is None:
            ctx.put(step, r["delta"], arith.gate(n, r["eps"], r["g"]))
            return
        lanes, depth = self.gate_fold
        cnt = self.fold_cnt
        if getattr(ctx, "_gate_lanes", None) is None:
            ctx._gate_lanes = [self._gate_lane(ctx, arith, n, r, cnt, lanes, depth, lane)
                               for lane in range(lanes)]
        for lane, (value, over, valid) in enumerate(ctx._gate_lanes):
            arith.record(n, SITE_DELTA, over & valid)
            for t in range(depth):
                i = t * lanes + lane
                if i < n.size:
                    ctx.put(step, [r["delta"][i]], [value], when=cnt == t)

    def _gate_lane(self, ctx, arith, n, r, cnt, lanes, depth, lane):
        idx = [min(t * lanes + lane, n.size - 1) for t in range(depth)]
        eps = Array([r["eps"][i] for i in idx])[cnt[:max(1, (depth - 1).bit_length())]]
        gain = Array([r["g"][i] for i in idx])[cnt[:max(1, (depth - 1).bit_length())]]
        prod = Signal(signed(len(r["eps"][0]) + len(r["g"][0])), name=f"gate_prod{lane}")
        ctx.combs.append((prod, eps * gain))                   # the lane's one multiplier
        value, over = arith.gate_element(n, prod, cnt * lanes + lane, name=f"gate_rnd{lane}")
        valid = _or([cnt == t for t in range(depth) if t * lanes + lane < n.size])
        return value, over, valid

    def _build_stream(self, ctx, arith, n, r, b, target):
        g, sch = self.graph, self.sched
        f, e = sch.f, sch.e
        arith.step = Step.S1
        pred = self._predict(ctx, arith, n, r, b,
                             lags={p: f[n.name] - f[p] - 1 for p in n.inputs})
        for reg, vals in pred.items():
            ctx.put(Step.S1, r[reg], vals)
        if n.op in ("add", "mul") and not n.output:
            ctx.put(Step.S1, r["v"], pred["vhat"])
        if n.output:
            ctx.put(Step.S1, r["y"], [Mux(ctx.bubble, 0, x) for x in target])
            ctx.put(Step.S1, r["v"], ctx.read(n.name, "y", f[n.name] - 1))
        if n.is_hidden:
            terms = self._terms(ctx, arith, n, lambda c: e[n.name] - e[c.name] - 1)
            zero = arith.zeros(n.size)
            eps = arith.relax(n, "eps", zero, zero, terms, g.learning.shift_v)
            ctx.put(Step.S1, r["eps"], eps)
            if "delta" in r:
                gain = ctx.read(n.name, "g", e[n.name] - f[n.name] - 1)
                ctx.put(Step.S1, r["delta"], arith.gate(n, eps, gain))
        if b is not None:
            ok = ctx.valid(e[n.name] + 1)
            arith.enable = ok
            new = arith.update_b(n, b, r["delta"], g.learning.shift_theta)
            arith.enable = None
            ctx.put(Step.S1, b, [Mux(ok, x, old) for x, old in zip(new, b)])
        _shift_lines(ctx, n.name, self.lags, Step.S1)
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
        """A mul node sends v_q ⊙ ε to each hidden parent (exact)."""
        if n.op != "mul":
            return
        g = self.graph
        for p in n.inputs:
            if not g.node(p).is_hidden:
                continue
            q = [x for x in n.inputs if x != p][0]
            if self.streaming:
                f, e = self.sched.f, self.sched.e
                v = ctx.read(q, "v", e[p] - f[q] - 1)
                eps = ctx.read(n.name, "eps", e[p] - e[n.name] - 1)
            else:
                v, eps = ctx.read(q, "v"), ctx.regs("eps")
            vals, _ = arith.t_mul(v, eps)
            ctx.output(f"msg_to_{p}", vals, key=p)

    def _finish(self, m, ctx, arith):
        for k, (mem, port, addr) in enumerate(self._act_roms):
            m.submodules[f"act_table{k}"] = mem
            m.d.comb += port.addr.eq(addr)
        self._finish_flags(m, arith)

    def _finish_flags(self, m, arith):
        g, n = self.graph, self.graph.node(self.owner)
        sat = self.r_sat
        masks = []
        for (step, _, bit), bits in arith.overflows.items():
            any_bit = bits[0]
            for x in bits[1:]:
                any_bit = any_bit | x
            masks.append(self.strobe(step) & any_bit)
            masks[-1] = masks[-1] << bit
        if n.op == "dense":
            upd = self.st_upd
            masks += [(upd & getattr(self, f"w_over_{k}")) << (SITE_W0 + k)
                      for k in range(len(n.inputs))]
        total = _or(masks) if masks else Const(0, WORD_BITS)
        with m.If(self.clear):
            m.d.sync += sat.eq(0)
        with m.Else():
            m.d.sync += sat.eq(sat | total)
        fields = {f"{n.name}.sat": [sat]}
        if not self.serial:             # else memories, written by :mod:`.serial`
            if n.bias:
                fields[f"{n.name}.b"] = list(self.r_b)
            if n.output:
                fields[f"target.{n.name}"] = list(self.r_target)
        self._host_writes(m, fields)


class EdgePE(_PE):
    """The weights of one dense edge parent -> child and their three products."""

    #: row sums handed to the child as they complete (serial edges, :mod:`.fold`)
    fused = False

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
        W = list(self.r_W)
        Wm = [W[i * cols:(i + 1) * cols] for i in range(rows)]
        if self.streaming:
            f, e, u = self.sched.f, self.sched.e, self.sched.u[(c.name, p.name)]
            v_fwd = ctx.read(p.name, "v", f[c.name] - f[p.name] - 1)
            d_bwd = (ctx.read(c.name, "delta", e[p.name] - e[c.name] - 1) if p.is_hidden
                     else None)
            d_upd = ctx.read(c.name, "delta", u - e[c.name] - 1)
            v_upd = ctx.read(p.name, "v", u - f[p.name] - 1)
            step, ok = Step.S1, ctx.valid(u)
        else:
            v_fwd = v_upd = ctx.read(p.name, "v")
            d_bwd = ctx.read(c.name, "delta") if p.is_hidden else None
            d_upd = d_bwd if d_bwd is not None else ctx.read(c.name, "delta")
            step, ok = Step.UPD, None
        ctx.output("fwd", [_sum([Wm[i][j] * v_fwd[j] for j in range(cols)])
                           for i in range(rows)])
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
        m.d.comb += self.w_over.eq(_or(bits) if bits else 0)
        self._host_writes(m, {self.key: list(self.r_W)})


def _shift_lines(ctx, name, lags, step):
    for (node, reg), depth in lags.items():
        if node != name:
            continue
        line = ctx.line(reg)
        size = len(line) // depth
        ctx.put(step, line, list(ctx.regs(reg)) + line[:(depth - 1) * size])


def dense_edge(pe, graph, child, parent):
    """Check that parent -> child is a dense edge and set the edge PE's names."""
    c = _node_of(graph, child)
    name = type(pe).__name__
    if c.op != "dense":
        raise ValueError(f"{name} is for the inputs of dense nodes, and {child!r} has "
                         f"op {c.op}")
    if parent not in c.inputs:
        raise ValueError(f"{name}: {parent!r} is not an input of {child!r} (its inputs "
                         f"are {', '.join(c.inputs)})")
    pe.child, pe.parent, pe.k = child, parent, c.inputs.index(parent)
    pe.key = f"{child}.W.{parent}"


def _node_of(graph, name):
    try:
        return graph.node(name)
    except KeyError:
        raise ValueError(f"Graph {graph.name!r} has no node {name!r}; its nodes are "
                         f"{', '.join(n.name for n in graph.nodes)}") from None


def _or(values):
    """The OR of values (0 for none): one-bit flags, or words of which at most one is not
    zero."""
    values = list(values)
    if not values:
        return Const(0, 1)
    while len(values) > 1:          # a balanced tree: shallow logic, shallow simulator code
        values = [values[i] | values[i + 1] if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]
