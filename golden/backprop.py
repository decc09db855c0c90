"""Backpropagation reference: reverse-mode differentiation over the same graph, in NumPy.

Written independently of the PC code (it calls neither the engine nor the activation
module) so that it can judge it. For one sample::

    forward    a_i, o_i = f_i(a_i) per node in topological order (inputs: o = x)
    loss       L = ½ Σ_outputs ‖y - o_out‖²
    reverse    ḡ_out = o_out - y ;  for i in reverse order, with ḡ_i = ∂L/∂o_i:
                 dense: ḡa = ḡ_i ⊙ f'(a_i);  ∂L/∂W_{i,p} = ḡa o_pᵀ;  ∂L/∂b_i = ḡa;
                        ḡ_p += W_{i,p}ᵀ ḡa
                 act:   ḡ_p += ḡ_i ⊙ f'(o_p)
                 add:   ḡ_p += ḡ_i
                 mul:   ḡ_p += ḡ_i ⊙ o_q

:class:`Backprop` also trains by plain per-sample SGD (θ ← θ - η_θ ∂L/∂θ) with the same
interface as the PC models, for the ``--backprop`` switch of ``pcfpga train``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Backprop", "gradients"]


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


_F = {
    "identity": (lambda a: a, lambda a: np.ones_like(a)),
    "relu": (lambda a: np.where(a > 0, a, 0.0), lambda a: np.where(a > 0, 1.0, 0.0)),
    "leaky_relu": (lambda a: np.where(a >= 0, a, a / 64.0),
                   lambda a: np.where(a > 0, 1.0, 1.0 / 64.0)),
    "hardtanh": (lambda a: np.minimum(np.maximum(a, -1.0), 1.0),
                 lambda a: np.where((a > -1) & (a < 1), 1.0, 0.0)),
    "hardsigmoid": (lambda a: np.minimum(np.maximum(0.25 * a + 0.5, 0.0), 1.0),
                    lambda a: np.where((a > -2) & (a < 2), 0.25, 0.0)),
    "tanh": (np.tanh, lambda a: 1.0 / np.cosh(a) ** 2),
    "sigmoid": (_sig, lambda a: _sig(a) * (1.0 - _sig(a))),
}


def _forward(graph, params, x):
    out, pre = {}, {}
    for n in graph.nodes:
        if n.op == "input":
            out[n.name] = np.asarray(x[n.name], dtype=np.float64)
        elif n.op == "dense":
            a = sum(out[p] @ params[f"{n.name}.W.{p}"].T for p in n.inputs)
            if n.bias:
                a = a + params[f"{n.name}.b"]
            pre[n.name] = a
            out[n.name] = _F[n.act][0](a)
        elif n.op == "act":
            out[n.name] = _F[n.act][0](out[n.inputs[0]])
        elif n.op == "add":
            out[n.name] = sum(out[p] for p in n.inputs)
        else:
            out[n.name] = out[n.inputs[0]] * out[n.inputs[1]]
    return out, pre


def gradients(graph, params, x, y):
    """∂L/∂θ for every parameter, ∂L/∂o for every non-input node, and L, for one sample.

    Returns
    -------
    (dparams, dvalues, loss)
    """
    out, pre = _forward(graph, params, x)
    loss = sum(0.5 * float(np.sum((np.asarray(y[n.name]) - out[n.name]) ** 2))
               for n in graph.nodes if n.output)
    grad = {n.name: np.zeros(n.size) for n in graph.nodes}
    for n in graph.nodes:
        if n.output:
            grad[n.name] = out[n.name] - np.asarray(y[n.name], dtype=np.float64)
    dparams = {}
    for n in reversed(graph.nodes):
        g = grad[n.name]
        if n.op == "dense":
            ga = g * _F[n.act][1](pre[n.name])
            for p in n.inputs:
                dparams[f"{n.name}.W.{p}"] = np.outer(ga, out[p])
                grad[p] = grad[p] + params[f"{n.name}.W.{p}"].T @ ga
            if n.bias:
                dparams[f"{n.name}.b"] = ga
        elif n.op == "act":
            p = n.inputs[0]
            grad[p] = grad[p] + g * _F[n.act][1](out[p])
        elif n.op == "add":
            for p in n.inputs:
                grad[p] = grad[p] + g
        elif n.op == "mul":
            p, q = n.inputs
            grad[p] = grad[p] + g * out[q]
            grad[q] = grad[q] + g * out[p]
    dvalues = {n.name: grad[n.name] for n in graph.nodes if n.op != "input"}
    return dparams, dvalues, loss


class Backprop:
    """Per-sample SGD with the reference gradients (same interface as the PC models)."""

    mode = "backprop"

    def __init__(self, graph, eta_theta=None):
        self.graph = graph
        self.eta = graph.learning.eta_theta if eta_theta is None else eta_theta

    def to_model(self, params):
        return {k: np.asarray(v, dtype=np.float64).copy() for k, v in params.items()}

    to_float = to_model

    def step(self, params, x, y):
        dparams, dvalues, loss = gradients(self.graph, params, x, y)
        new = {k: params[k] - self.eta * dparams[k] for k in params}
        trace = {f"{k}.grad": v[None] for k, v in dvalues.items()}
        return new, trace

    def predict(self, params, x):
        out, _ = _forward(self.graph, params, x)
        return {n.name: out[n.name] for n in self.graph.outputs}

    def reset(self):
        pass

    def drain(self, params):
        return params
