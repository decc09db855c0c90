"""``Network``: the hardware of a whole graph, one register per golden-trace register.

The datapaths are built by running the golden engine's own building blocks
(:class:`~pcfpga.golden.engine.Engine`) on registers through
:class:`~pcfpga.hdl.arith.HdlArith`, so every formula, rounding site and saturation point is
the specification's. Each node's logic reads only its own registers, its parents' values
and its children's errors (and the weights of the edges between them): the wiring follows
the graph's edges.

A controller runs the phases of the golden engine, one *micro-step* per clock cycle
(every micro-step writes its registers from the registers' contents at its start; the
LFSR steps on the clock edge that enters a phase)::

    exact, fpa     forward: FA_l, FF_l for l = 1..L, FE, FD      2L + 2 cycles
                   tick:    TE (ε of hidden nodes), TD (δ)        2 cycles
                   update:  UPD (every W and b)                   1 cycle
    standard       tick:    TV (hidden v), TA (a; v̂ of add/mul), TF (v̂, g), TE, TD
                                                                  5 cycles
    streaming      tick:    S1 (inputs, a, v̂ of add/mul, outputs' y and v, hidden ε and
                   δ, weight updates, delay lines shift), S2 (v̂, g), S3 (outputs' ε),
                   S4 (outputs' δ)                                4 cycles

where L is the longest path from an input (FA_l: pre-activations of level-l nodes and the
predictions of level-l add/mul nodes; FF_l: their activations and values; FE, FD: ε and δ
of every node). Cycles per training step are therefore ``2L + 2 + c·T + 1`` with c = 2
(exact, fpa) or 5 (standard), and one tick (= one sample) in streaming; the controller
reports both constants and counts the cycles of every run (:mod:`.memmap`).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from pcfpga.golden.engine import Engine
from pcfpga.golden.graph import Graph
from pcfpga.golden.lfsr import POLY
from pcfpga.golden.stream import schedule

from .arith import HdlArith
from .memmap import CTRL_BITS, ID_VALUE, STATUS_BITS, build_memory_map

__all__ = ["Network", "cycles_per_step", "cycles_per_tick"]


def _levels(graph) -> dict:
    lv = {}
    for n in graph.nodes:
        lv[n.name] = 0 if n.op == "input" else 1 + max(lv[p] for p in n.inputs)
    return lv


def cycles_per_tick(graph) -> int:
    """Clock cycles of one inference tick (streaming: one tick = one sample)."""
    return {"exact": 2, "fpa": 2, "standard": 5, "streaming": 4}[graph.learning.mode]


def cycles_per_step(graph) -> int:
    """Clock cycles of one training step: 2L + 2 + c·T + 1 (streaming: one tick)."""
    if graph.learning.mode == "streaming":
        return cycles_per_tick(graph)
    depth = max(_levels(graph).values())
    return 2 * depth + 2 + cycles_per_tick(graph) * graph.ticks + 1


class Network(wiring.Component):
    """The generated network of a validated :class:`~pcfpga.golden.graph.Graph`.

    Ports: a word bus (``addr``, ``w_data``, ``w_en``, ``r_data``; reads are combinational,
    writes take effect at the clock edge) and the status lines ``busy`` and ``done``.
    Writes other than to ``ctrl`` are ignored while busy.
    """

    def __init__(self, graph):
        if not isinstance(graph, Graph):
            raise TypeError(f"Network needs a validated Graph (Graph.from_toml or "
                            f"GraphBuilder.build), not {type(graph).__name__}")
        self.graph = graph
        self.streaming = graph.learning.mode == "streaming"
        self.schedule = schedule(graph) if self.streaming else None
        meta = {"mode": graph.learning.mode, "ticks": graph.ticks, "depth": graph.depth,
                "cycles_per_tick": cycles_per_tick(graph),
                "cycles_per_step": cycles_per_step(graph),
                "formats": {k: str(getattr(graph.formats, k)) for k in
                            ("value", "error", "weight")},
                "rounding": graph.formats.rounding}
        self.memmap = build_memory_map(graph, self.schedule.lags if self.streaming else None,
                                       meta)
        super().__init__({"addr": In(self.memmap.addr_width), "w_data": In(32),
                          "w_en": In(1), "r_data": Out(32), "busy": Out(1), "done": Out(1)})
        self.regs = {}
        for f in self.memmap.fields:
            if f.kind == "control":
                continue
            shape = signed(f.width) if f.kind != "flags" else 32
            self.regs[f.name] = [Signal(shape, name=f"{f.name}_{i}".replace(".", "_"))
                                 for i in range(f.count)]
        self.lfsr = Signal(32, init=graph.formats.seed)
        self.steps = Signal(32, init=1)
        self.tick = Signal(32)
        self.cycles = Signal(32)
        self.steps_done = Signal(32)
        self.pause = Signal()
        self.bubble = Signal()
        self.paused = Signal()
        latency = self.schedule.latency if self.streaming else 0
        self._presented = [Signal(name=f"presented_{i}") for i in range(latency)]

    # ------------------------------------------------------------------ helpers
    def _vec(self, name):
        return self.regs[name]

    def _mat(self, name):
        rows, cols = self.memmap[name].shape
        flat = self.regs[name]
        return [flat[r * cols:(r + 1) * cols] for r in range(rows)]

    def _params(self):
        return {k: (self._mat(k) if len(self.memmap[k].shape) == 2 else self._vec(k))
                for k in self.graph.param_shapes}

    def _state(self):
        """The engine's state dict over registers: state[node][reg] -> list of signals."""
        state = {}
        for n in self.graph.nodes:
            state[n.name] = {r: self.regs[f"{n.name}.{r}"] for r in
                             ("v", "a", "vhat", "g", "eps", "delta", "y")
                             if f"{n.name}.{r}" in self.regs}
        return state

    # ------------------------------------------------------------------ elaboration
    def elaborate(self, platform):
        m = Module()
        g, lr = self.graph, self.graph.learning
        arith = HdlArith(g, self.lfsr)
        eng = Engine(g, arith, lr.mode, lr.shift_v, lr.shift_theta, g.ticks)
        writes = {}     # micro-step -> list of (signal, value)

        def put(step, targets, values):
            writes.setdefault(step, []).extend(zip(targets, values))

        params, state = self._params(), self._state()
        steps = (self._build_stream(arith, eng, params, state, put) if self.streaming
                 else self._build_steps(arith, eng, params, state, put))
        self._controller(m, steps, writes, arith)
        self._bus(m)
        return m

    def _build_steps(self, arith, eng, params, state, put):
        """Datapaths of exact, fpa and standard mode; returns the micro-step names."""
        g = self.graph
        lv = _levels(g)
        depth = max(lv.values())
        vals = {n.name: state[n.name]["v"] for n in g.nodes}
        forward = []
        for level in range(1, depth + 1):
            here = [n for n in g.nodes if lv[n.name] == level]
            arith.step = fa = f"FA{level}"
            ff = f"FF{level}"
            forward += [fa, ff]
            for n in here:
                regs = {}
                if n.op == "dense":
                    Ws = [params[f"{n.name}.W.{p}"] for p in n.inputs]
                    put(fa, state[n.name]["a"], arith.dense(n, Ws, [vals[p] for p in n.inputs],
                                                            params.get(f"{n.name}.b")))
                elif n.op == "act":
                    put(fa, state[n.name]["a"], vals[n.inputs[0]])
                else:
                    eng._predict(n, params, vals, regs)
                    put(fa, state[n.name]["vhat"], regs["vhat"])
                    put(fa, state[n.name]["v"], self._target(n) if n.output else regs["vhat"])
            arith.step = ff
            for n in here:
                if n.op in ("dense", "act"):
                    vhat, gain = arith.act(n, state[n.name]["a"])
                    put(ff, state[n.name]["vhat"], vhat)
                    put(ff, state[n.name]["g"], gain)
                    put(ff, state[n.name]["v"], self._target(n) if n.output else vhat)
        self._errors_and_gates(arith, eng, state, put, "FE", "FD", g.nodes)
        forward += ["FE", "FD"]
        hidden = [n for n in g.nodes if n.is_hidden]
        if g.learning.mode in ("exact", "fpa"):
            arith.step = "TE"
            for n in hidden:
                put("TE", state[n.name]["eps"],
                    arith.relax(n, "eps", state[n.name]["eps"], state[n.name]["eps"],
                                eng._messages(n, params, state), eng.eta_v))
            arith.step = "TD"
            for n in hidden:
                if n.op in ("dense", "act"):
                    put("TD", state[n.name]["delta"],
                        arith.gate(n, state[n.name]["eps"], state[n.name]["g"]))
            tick = ["TE", "TD"]
        else:
            arith.step = "TV"
            for n in hidden:
                put("TV", state[n.name]["v"],
                    arith.relax(n, "v", state[n.name]["v"], state[n.name]["eps"],
                                eng._messages(n, params, state), eng.eta_v))
            arith.step = "TA"
            for n in g.nodes:
                if n.op == "dense":
                    Ws = [params[f"{n.name}.W.{p}"] for p in n.inputs]
                    put("TA", state[n.name]["a"], arith.dense(
                        n, Ws, [vals[p] for p in n.inputs], params.get(f"{n.name}.b")))
                elif n.op == "act":
                    put("TA", state[n.name]["a"], vals[n.inputs[0]])
                elif n.op in ("add", "mul"):
                    regs = {}
                    eng._predict(n, params, vals, regs)
                    put("TA", state[n.name]["vhat"], regs["vhat"])
            arith.step = "TF"
            for n in g.nodes:
                if n.op in ("dense", "act"):
                    vhat, gain = arith.act(n, state[n.name]["a"])
                    put("TF", state[n.name]["vhat"], vhat)
                    put("TF", state[n.name]["g"], gain)
            self._errors_and_gates(arith, eng, state, put, "TE", "TD", g.nodes)
            tick = ["TV", "TA", "TF", "TE", "TD"]
        arith.step = "UPD"
        new = eng._update(params, state)
        for key in g.param_shapes:
            put("UPD", _flat(params[key]), _flat(new[key]))
        return {"forward": forward, "tick": tick, "update": ["UPD"]}

    def _errors_and_gates(self, arith, eng, state, put, se, sd, nodes):
        arith.step = se
        for n in nodes:
            if n.op != "input":
                put(se, state[n.name]["eps"], arith.error(n, state[n.name]["v"],
                                                          state[n.name]["vhat"]))
        arith.step = sd
        for n in nodes:
            if n.op in ("dense", "act"):
                put(sd, state[n.name]["delta"], arith.gate(n, state[n.name]["eps"],
                                                           state[n.name]["g"]))

    def _target(self, node):
        return self.regs[f"target.{node.name}"]

    def _build_stream(self, arith, eng, params, state, put):
        """Datapaths of the streaming pipeline (golden/stream.py, one tick = S1..S4)."""
        g, sch = self.graph, self.schedule
        f, e = sch.f, sch.e

        def read(name, reg, lag):
            """S(t-1-lag) as seen in S1, before the delay lines shift."""
            if lag == 0:
                return state[name][reg]
            line = self.regs[f"{name}.{reg}.line"]
            size = g.node(name).size
            return line[(lag - 1) * size:lag * size]

        arith.step = "S1"
        for n in g.inputs:
            buf = self.regs[f"in.{n.name}"]
            put("S1", state[n.name]["v"], [Mux(self.bubble, 0, x) for x in buf])
        for n in g.nodes:
            if n.op == "input":
                continue
            vals = {p: read(p, "v", f[n.name] - f[p] - 1) for p in n.inputs}
            if n.op == "dense":
                Ws = [params[f"{n.name}.W.{p}"] for p in n.inputs]
                put("S1", state[n.name]["a"], arith.dense(
                    n, Ws, [vals[p] for p in n.inputs], params.get(f"{n.name}.b")))
            elif n.op == "act":
                put("S1", state[n.name]["a"], vals[n.inputs[0]])
            else:
                regs = {}
                eng._predict(n, params, vals, regs)
                put("S1", state[n.name]["vhat"], regs["vhat"])
                if not n.output:
                    put("S1", state[n.name]["v"], regs["vhat"])
            if n.output:
                put("S1", state[n.name]["y"], [Mux(self.bubble, 0, x)
                                               for x in self._target(n)])
                lag = f[n.name] - 1
                y_old = ([Mux(self.bubble, 0, x) for x in self._target(n)] if lag < 0
                         else read(n.name, "y", lag))
                put("S1", state[n.name]["v"], y_old)
        for n in g.nodes:                                   # backward stage
            if not n.is_hidden:
                continue
            terms = []
            for c in g.children(n.name):
                lag = e[n.name] - e[c.name] - 1
                if c.op == "dense":
                    terms.append(arith.t_dense(params[f"{c.name}.W.{n.name}"],
                                               read(c.name, "delta", lag)))
                elif c.op == "act":
                    terms.append(arith.t_id(read(c.name, "delta", lag)))
                elif c.op == "add":
                    terms.append(arith.t_id(read(c.name, "eps", lag)))
                else:
                    q = [p for p in c.inputs if p != n.name][0]
                    terms.append(arith.t_mul(read(q, "v", e[n.name] - f[q] - 1),
                                             read(c.name, "eps", lag)))
            zero = arith.zeros(n.size)
            eps = arith.relax(n, "eps", zero, zero, terms, eng.eta_v)
            put("S1", state[n.name]["eps"], eps)
            if n.op in ("dense", "act"):
                gain = read(n.name, "g", e[n.name] - f[n.name] - 1)
                put("S1", state[n.name]["delta"], arith.gate(n, eps, gain))
        valid = self._valid
        for n in g.nodes:                                   # weight updates
            if n.op != "dense":
                continue
            for k, p in enumerate(n.inputs):
                u = sch.u[(n.name, p)]
                key = f"{n.name}.W.{p}"
                delta = read(n.name, "delta", u - e[n.name] - 1)
                new = arith.update_w(n, k, params[key], delta, read(p, "v", u - f[p] - 1),
                                     eng.eta_theta)
                put("S1", _flat(params[key]),
                    [Mux(valid(u), x, old) for x, old in zip(_flat(new), _flat(params[key]))])
            if n.bias:
                key = f"{n.name}.b"
                new = arith.update_b(n, params[key], read(n.name, "delta", 0), eng.eta_theta)
                put("S1", params[key], [Mux(valid(e[n.name] + 1), x, old)
                                        for x, old in zip(new, params[key])])
        if self._presented:                                 # which ticks held a sample
            put("S1", self._presented, [~self.bubble] + self._presented[:-1])
        for (name, reg), depth in sch.lags.items():         # delay lines shift
            size = g.node(name).size
            line = self.regs[f"{name}.{reg}.line"]
            put("S1", line, list(state[name][reg]) + line[:(depth - 1) * size])
        arith.step = "S2"
        for n in g.nodes:
            if n.op in ("dense", "act"):
                vhat, gain = arith.act(n, state[n.name]["a"])
                put("S2", state[n.name]["vhat"], vhat)
                put("S2", state[n.name]["g"], gain)
                if not n.output:
                    put("S2", state[n.name]["v"], vhat)
        outs = [n for n in g.outputs]
        self._errors_and_gates(arith, eng, state, put, "S3", "S4", outs)
        return {"tick": ["S1", "S2", "S3", "S4"]}

    # ------------------------------------------------------------------ control
    @property
    def _valid(self):
        """valid(u): a sample entered u ticks before the current one (read in S1)."""
        def valid(u):
            return ~self.bubble if u == 0 else self._presented[u - 1]
        return valid

    def _controller(self, m, steps, writes, arith):
        g = self.graph
        ctrl_hit = self.w_en & (self.addr == self.memmap["ctrl"].addr)
        start = ctrl_hit & self.w_data[CTRL_BITS["start"]]
        cont = ctrl_hit & self.w_data[CTRL_BITS["continue"]]
        clear = ctrl_hit & self.w_data[CTRL_BITS["clear"]]
        lfsr_next = Mux(self.lfsr[0], (self.lfsr >> 1) ^ POLY, self.lfsr >> 1)
        remaining = Signal(32)
        busy = Signal()
        m.d.comb += self.busy.eq(busy)
        with m.If(busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        names = [n.name for n in g.nodes]
        flag_or = {}            # micro-step -> node index -> OR of (overflow << bit)
        for (step, index, bit), bits in arith.overflows.items():
            term = _any(bits) << bit
            cur = flag_or.setdefault(step, {}).get(index)
            flag_or[step][index] = term if cur is None else cur | term

        def do(step):
            for sig, val in writes.get(step, []):
                m.d.sync += sig.eq(val)
            for index, mask in flag_or.get(step, {}).items():
                reg = self.regs[f"{names[index]}.sat"][0]
                m.d.sync += reg.eq(reg | mask)

        tick_states = steps["tick"]
        forward = steps.get("forward", [])

        def begin():
            """Enter a run's first phase (forward sweep, or a streaming tick)."""
            m.d.sync += self.lfsr.eq(lfsr_next)
            if self.streaming:
                m.next = tick_states[0]
                return
            m.d.sync += self.tick.eq(0)
            for n in g.inputs:
                for v, x in zip(self.regs[f"{n.name}.v"], self.regs[f"in.{n.name}"]):
                    m.d.sync += v.eq(x)
            m.next = forward[0]

        def proceed(ticks_done):
            """After the forward sweep or a tick: the next tick, the update, or the end."""
            if self.streaming:
                with m.If(remaining > 1):
                    m.d.sync += remaining.eq(remaining - 1)
                    begin()
                with m.Else():
                    m.next = "DONE"
                return
            m.d.sync += self.lfsr.eq(lfsr_next)
            with m.If(ticks_done < g.ticks):
                m.next = tick_states[0]
            with m.Else():
                m.next = "UPD"

        def finish_phase(ticks_done):
            with m.If(self.pause):
                m.next = "PAUSE"
            with m.Else():
                proceed(ticks_done)

        with m.FSM(init="IDLE"):
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += [remaining.eq(Mux(self.steps == 0, 1, self.steps)),
                                 self.cycles.eq(0), self.done.eq(0)]
                    begin()
            for i, s in enumerate(forward):
                with m.State(s):
                    m.d.comb += busy.eq(1)
                    do(s)
                    if i + 1 < len(forward):
                        m.next = forward[i + 1]
                    else:
                        finish_phase(Const(0))
            for i, s in enumerate(tick_states):
                with m.State(s):
                    m.d.comb += busy.eq(1)
                    do(s)
                    if i + 1 < len(tick_states):
                        m.next = tick_states[i + 1]
                    elif self.streaming:
                        m.d.sync += self.steps_done.eq(self.steps_done + 1)
                        finish_phase(None)
                    else:
                        m.d.sync += self.tick.eq(self.tick + 1)
                        finish_phase(self.tick + 1)
            with m.State("PAUSE"):
                m.d.comb += [busy.eq(1), self.paused.eq(1)]
                with m.If(cont):
                    proceed(self.tick)
            if not self.streaming:
                with m.State("UPD"):
                    m.d.comb += busy.eq(1)
                    do("UPD")
                    m.d.sync += self.steps_done.eq(self.steps_done + 1)
                    with m.If(remaining > 1):
                        m.d.sync += remaining.eq(remaining - 1)
                        begin()
                    with m.Else():
                        m.next = "DONE"
            with m.State("DONE"):
                m.d.sync += self.done.eq(1)
                m.next = "IDLE"
        with m.If(clear & ~busy):
            for n in g.nodes:
                m.d.sync += self.regs[f"{n.name}.sat"][0].eq(0)

    def _bus(self, m):
        """Word reads (combinational) and writes (ignored while busy, except ctrl)."""
        mm = self.memmap
        ctrl = mm["ctrl"].addr
        with m.If(self.w_en & (self.addr == ctrl)):
            m.d.sync += [self.pause.eq(self.w_data[CTRL_BITS["pause"]]),
                         self.bubble.eq(self.w_data[CTRL_BITS["bubble"]])]
        control = {
            "id": Const(ID_VALUE, 32),
            "ctrl": Cat(Const(0, 1), self.pause, Const(0, 1), self.bubble),
            "status": Cat(self.busy, self.done, self.paused),
            "steps": self.steps, "tick": self.tick, "cycles": self.cycles,
            "steps_done": self.steps_done, "lfsr": self.lfsr,
            "cycles_per_tick": Const(cycles_per_tick(self.graph), 32),
            "cycles_per_step": Const(cycles_per_step(self.graph), 32),
        }
        assert STATUS_BITS == {"busy": 0, "done": 1, "paused": 2}
        writable = {"steps": self.steps, "lfsr": self.lfsr}
        with m.Switch(self.addr):
            for name, value in control.items():
                with m.Case(mm[name].addr):
                    m.d.comb += self.r_data.eq(value)
            for f in mm.fields:
                if f.kind == "control":
                    continue
                for i, sig in enumerate(self.regs[f.name]):
                    with m.Case(f.addr + i):
                        m.d.comb += self.r_data.eq(sig if f.kind == "flags"
                                                   else sig.as_signed())
        with m.If(self.w_en & ~self.busy):
            with m.Switch(self.addr):
                for name, sig in writable.items():
                    with m.Case(mm[name].addr):
                        m.d.sync += sig.eq(self.w_data)
                for f in mm.fields:
                    if f.access != "rw" or f.kind == "control":
                        continue
                    for i, sig in enumerate(self.regs[f.name]):
                        with m.Case(f.addr + i):
                            m.d.sync += sig.eq(self.w_data[:f.width] if f.kind != "flags"
                                               else self.w_data)


def _flat(x):
    """A matrix (list of rows) or vector as one flat list."""
    return [v for row in x for v in row] if x and isinstance(x[0], list) else list(x)


def _any(bits):
    out = bits[0]
    for b in bits[1:]:
        out = out | b
    return out
