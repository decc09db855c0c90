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

**Ports are discovered, not declared.** A PE's datapath is written once, as a builder that
asks its context for what it needs (``read(node, reg, lag)``, ``partial(parent)``,
``message(child)``) and writes registers in micro-steps (``put``). The constructor runs the
builder on placeholder signals to learn which ports it needs; ``elaborate`` runs it again
on the ports. Reads at a lag L > 0 (streaming) are taps of the producer's delay line.

Every PE takes the :class:`~.design.Design` (a graph is made into a fully parallel one),
which holds the memory map, the schedule and the folding: nothing is derived per PE.
Parameters are checked first, e.g. ``NodePE(design, "x")`` for an input node raises
"NodePE is for dense, act, add and mul nodes; 'x' is an input (use InputPE)".
"""

from __future__ import annotations

from amaranth.hdl import Array, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from pcfpga.golden.engine import node_registers
from pcfpga.golden.activations import ActTable
from pcfpga.golden.lfsr import SITE_DELTA, SITE_VHAT, SITE_W0

from .arith import HdlArith, _sum, table_index
from .design import STEP_COUNTER_BITS, Step, as_design
from .memmap import WORD_BITS

__all__ = ["InputPE", "NodePE", "EdgePE", "register_shape", "message_width",
           "partial_width", "COMB"]

#: ``ctx.writes`` entries of combinational outputs (every other entry names its Step).
COMB = "comb"


def register_shape(graph, reg: str):
    """Amaranth shape of a node register: values in V, errors in E, gains in Q2.n_v."""
    f = graph.formats
    if reg in ("eps", "delta"):
        return signed(f.error.width)
    if reg == "g":
        return signed(f.gain.width)
    return signed(f.value.width)


def message_width(graph, child, parent) -> int:
    """Width of the exact message J_{child,parent}ᵀ ε_child."""
    f = graph.formats
    c = graph.node(child)
    if c.op == "dense":
        return f.weight.width + f.error.width + c.size.bit_length() + 1
    if c.op == "mul":
        return f.value.width + f.error.width
    return f.error.width


def partial_width(graph, child, parent) -> int:
    """Width of an exact forward partial product row W_{child,parent} v_parent."""
    f = graph.formats
    return f.weight.width + f.value.width + graph.node(parent).size.bit_length() + 1


class _Ctx:
    """What a builder may use. ``dry``: placeholders; else the component's ports."""

    def __init__(self, pe, dry: bool):
        self.pe, self.dry = pe, dry
        self.reads, self.partials, self.messages, self.outputs = {}, {}, {}, {}
        self.steps, self.writes, self.combs = [], [], []
        self.uses_valid, self.uses_bubble = set(), False

    def _port(self, name, count, shape):
        if self.dry:
            return [Signal(shape, name=f"{name}_{i}") for i in range(count)]
        return list(getattr(self.pe, name))

    def read(self, node, reg, lag=0):
        """Register ``reg`` of ``node`` as it was ``lag`` ticks before this one."""
        pe, g = self.pe, self.pe.graph
        if node == pe.owner and reg in pe.own:
            if lag == 0:
                return pe_regs(self, reg)
            return pe_line(self, reg)[(lag - 1) * g.node(node).size:lag * g.node(node).size]
        name = f"rd_{node}_{reg}_{lag}"
        self.reads[name] = (node, reg, lag)
        return self._port(name, g.node(node).size, register_shape(g, reg))

    def partial(self, parent):
        """The exact forward product W v_parent from the edge (dense nodes)."""
        g, i = self.pe.graph, self.pe.owner
        name = f"fwd_{parent}"
        self.partials[name] = parent
        return self._port(name, g.node(i).size, signed(partial_width(g, i, parent)))

    def message(self, child):
        """The exact message of a child (dense children: from the edge; mul: from the mul
        node); act and add children's messages are their δ / ε, read directly."""
        g, i = self.pe.graph, self.pe.owner
        name = f"msg_{child}"
        self.messages[name] = child
        return self._port(name, g.node(i).size, signed(message_width(g, child, i)))

    def output(self, name, values, width):
        """Expose a combinational result (a message or a partial product) as a port."""
        self.outputs[name] = width
        if not self.dry:
            self.writes.append((COMB, list(getattr(self.pe, name)), values, None))

    def put(self, step, targets, values, when=None):
        """Write ``targets`` in micro-step ``step`` (in the cycles where ``when`` holds,
        for the multi-cycle steps of folded datapaths)."""
        if step not in self.steps:
            self.steps.append(step)
        self.writes.append((step, list(targets), list(values), when))

    def valid(self, u):
        """A sample entered u ticks before the current one (streaming)."""
        self.uses_valid.add(u)
        if self.dry:
            return Signal()
        return ~self.pe.bubble if u == 0 else self.pe.presented[u - 1]

    @property
    def bubble(self):
        self.uses_bubble = True
        return Signal() if self.dry else self.pe.bubble


def pe_regs(ctx, reg):
    return ctx._port(f"r_{reg}", ctx.pe.graph.node(ctx.pe.owner).size,
                     register_shape(ctx.pe.graph, reg))


def pe_line(ctx, reg):
    g = ctx.pe.graph
    depth = ctx.pe.lags.get((ctx.pe.owner, reg), 0)
    return ctx._port(f"line_{reg}", depth * g.node(ctx.pe.owner).size,
                     register_shape(g, reg))


class _PE(wiring.Component):
    """Common machinery: check the parameters against the design, discover ports, then
    build the micro-step writes."""

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
        super().__init__(self._setup(design))

    def _check(self, design, *names):
        """Check the parameters and set the PE's own attributes (per class)."""
        raise NotImplementedError

    def strobe(self, step):
        """The input strobe of micro-step ``step``."""
        return getattr(self, f"st_{step}")

    def _setup(self, design):
        self.design = design
        self.graph = graph = design.graph
        self.streaming = design.streaming
        self.sched = design.schedule
        self.lags = design.lags
        self.memmap = design.memmap
        dry = self._ctx_class(self, dry=True)
        dry_arith = HdlArith(graph, Signal(32))
        self._prepare(None, dry, dry_arith)
        self._build(dry, dry_arith)
        for mem, _ in dry_arith.roms:
            mem._MustUse__silence = True        # placeholders of the dry run
        g = graph
        members = {"lfsr": In(32), "host_addr": In(self.memmap.addr_width),
                   "host_data": In(WORD_BITS), "host_we": In(1), "clear": In(1)}
        members.update({f"st_{s}": In(1) for s in dry.steps})
        if self.owner is not None:
            size = g.node(self.owner).size
            for reg in self.own if not self.serial else ():
                members[f"r_{reg}"] = Out(register_shape(g, reg)).array(size)
                depth = self.lags.get((self.owner, reg), 0)
                if depth:
                    members[f"line_{reg}"] = Out(register_shape(g, reg)).array(depth * size)
        for name, (node, reg, lag) in dry.reads.items():
            members[name] = In(register_shape(g, reg)).array(
                1 if self.serial else g.node(node).size)
        for name, parent in dry.partials.items():
            members[name] = In(signed(partial_width(g, self.owner, parent))).array(
                g.node(self.owner).size)
        for name, child in dry.messages.items():
            members[name] = In(signed(message_width(g, child, self.owner))).array(
                1 if self.serial else g.node(self.owner).size)
        for name, width in dry.outputs.items():
            members[name] = Out(signed(width[0])).array(width[1])
        members.update(self._extra_members(dry))
        if dry.uses_valid or dry.uses_bubble:
            members["bubble"] = In(1)
            if self.sched.latency:
                members["presented"] = In(self.sched.latency)
        self.reads = dry.reads
        self.partials = dry.partials
        self.messages = dry.messages
        self.outputs = dry.outputs
        self.used_steps = dry.steps
        return members

    def _extra_members(self, dry):
        return {}

    def elaborate(self, platform):
        m = Module()
        ctx = self._ctx_class(self, dry=False)
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
        self._finish(m, arith)
        for signal, value in arith.combs:       # last: _finish may build datapaths too
            m.d.comb += signal.eq(value)
        return m

    def _prepare(self, m, ctx, arith):
        """Before the builder runs (``m`` is None in the dry run)."""

    def _apply_writes(self, m, ctx):
        """Each ``put``: the targets take their values at the clock edge of the step."""
        for step, targets, values, when in ctx.writes:
            if step == COMB:
                m.d.comb += [t.eq(v) for t, v in zip(targets, values)]
                continue
            strobe = self.strobe(step)
            with m.If(strobe if when is None else strobe & when):
                m.d.sync += [t.eq(v) for t, v in zip(targets, values)]

    def _finish(self, m, arith):
        pass

    def _host_writes(self, m, fields: dict):
        """Host writes into this PE's rw fields: {memmap name: list of signals}.

        One address comparison per signal, not one ``Switch``: the addresses are distinct,
        and Amaranth writes a signal assigned in case k of a switch as a switch with cases
        0..k (the cases before it decide too), so N signals were N²/2 cases (524,800 for
        the 1,024 weights of digits' first edge, 25 MB of its Verilog)."""
        with m.If(self.host_we):
            for name, sigs in fields.items():
                f = self.memmap[name]
                for i, s in enumerate(sigs):
                    with m.If(self.host_addr == f.addr + i):
                        m.d.sync += s.eq(self.host_data[:len(s)])


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

    def _extra_members(self, dry):
        return {"r_in": Out(register_shape(self.graph, "v")).array(
            self.graph.node(self.owner).size), "r_sat": Out(WORD_BITS)}

    def _build(self, ctx, arith):
        n = self.graph.node(self.owner)
        buf = ctx._port("r_in", n.size, register_shape(self.graph, "v"))
        v = pe_regs(ctx, "v")
        if self.streaming:
            ctx.put(Step.S1, v, [Mux(ctx.bubble, 0, x) for x in buf])
            _shift_lines(ctx, self.owner, self.lags, Step.S1)
        else:
            ctx.put(Step.F0, v, buf)

    def _finish(self, m, arith):
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
        #: (lanes, depth): δ = ε ⊙ g on ``lanes`` multipliers over ``depth`` cycles
        self.gate_fold = design.plan.gates.get(name)
        #: tables in block RAM, one lookup per cycle (tanh, sigmoid), or None
        self.act_fold = design.plan.acts.get(name)
        self._act_roms = []
        self.own = tuple(node_registers(node, design.streaming))

    def _extra_members(self, dry):
        g, n = self.graph, self.graph.node(self.owner)
        members = {"r_sat": Out(WORD_BITS)}
        if n.bias:
            members["r_b"] = Out(signed(g.formats.weight.width)).array(n.size)
        if n.output:
            members["r_target"] = Out(register_shape(g, "v")).array(n.size)
        if n.op == "dense":
            members.update({f"w_over_{k}": In(1) for k in range(len(n.inputs))})
            members["st_upd"] = In(1)
        if self.gate_fold is not None or self.act_fold is not None:
            members["fold_cnt"] = In(STEP_COUNTER_BITS)
        return members

    def _build(self, ctx, arith):
        g = self.graph
        n = g.node(self.owner)
        r = {reg: pe_regs(ctx, reg) for reg in self.own}
        b = (ctx._port("r_b", n.size, signed(g.formats.weight.width)) if n.bias else None)
        target = (ctx._port("r_target", n.size, register_shape(g, "v")) if n.output
                  else None)
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
        cnt = ctx._port("fold_cnt", 1, STEP_COUNTER_BITS)[0] if ctx.dry else self.fold_cnt
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
            if ctx.dry:
                data = (Signal(signed(V.width)), Signal(signed(f.gain.width)))
            else:
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
        cnt = (ctx._port("fold_cnt", 1, STEP_COUNTER_BITS)[0] if ctx.dry else self.fold_cnt)
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
                v, eps = ctx.read(q, "v"), pe_regs(ctx, "eps")
            vals, _ = arith.t_mul(v, eps)
            ctx.output(f"msg_to_{p}", vals, (message_width(g, n.name, p), len(vals)))

    def _finish(self, m, arith):
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

    def _extra_members(self, dry):
        g = self.graph
        rows, cols = g.param_shapes[self.key]
        return {"r_W": Out(signed(g.formats.weight.width)).array(rows * cols),
                "w_over": Out(1)}

    def _build(self, ctx, arith):
        g = self.graph
        c, p = g.node(self.child), g.node(self.parent)
        rows, cols = c.size, p.size
        W = ctx._port("r_W", rows * cols, signed(g.formats.weight.width))
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
                           for i in range(rows)], (partial_width(g, c.name, p.name), rows))
        if d_bwd is not None:
            vals, _ = arith.t_dense(Wm, d_bwd)
            ctx.output("msg", vals, (message_width(g, c.name, p.name), cols))
        arith.step, arith.enable = step, ok
        new = arith.update_w(c, self.k, Wm, d_upd, v_upd, g.learning.shift_theta)
        arith.enable = None
        flat = [x for row in new for x in row]
        if ok is not None:
            flat = [Mux(ok, x, old) for x, old in zip(flat, W)]
        ctx.put(step, W, flat)

    def _finish(self, m, arith):
        bits = [b for (_, _, _), bs in arith.overflows.items() for b in bs]
        m.d.comb += self.w_over.eq(_or(bits) if bits else 0)
        self._host_writes(m, {self.key: list(self.r_W)})


def _shift_lines(ctx, name, lags, step):
    for (node, reg), depth in lags.items():
        if node != name:
            continue
        line = pe_line(ctx, reg)
        size = len(line) // depth
        ctx.put(step, line, list(pe_regs(ctx, reg)) + line[:(depth - 1) * size])


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
