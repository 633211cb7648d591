"""The fused GPU path: a rule translated into one ``cupy.ElementwiseKernel``.

The rule's combined Python source (:attr:`~.rule.Rule.source`, the shared
prologue inlined ahead of its body) is parsed (:mod:`ast`) and emitted as the CUDA C body
of an elementwise kernel: parameter and state arrays are in/out operands
updated in place, the gradient is an input, scalars are ``T`` arguments and
flags become ``const bool`` constants (the compiler removes the dead branches).
One launch per contiguous run of parameters, i.e. per group when all
parameters share the step count. Only the small subset of Python that rules use
is accepted; anything else raises ``NotImplementedError`` naming the construct.
"""
from __future__ import annotations

import ast

from ...backend import _cupy

_KERNELS: dict = {}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMPOPS = {ast.Gt: ">", ast.Lt: "<", ast.GtE: ">=", ast.LtE: "<=", ast.Eq: "==", ast.NotEq: "!="}
_FUNCS = {"sqrt": "sqrt", "maximum": "_tk_max", "minimum": "_tk_min", "abs": "abs", "sign": "_tk_sign", "where": None}
_PREAMBLE = """
template <typename T> __device__ __forceinline__ T _tk_max(T a, T b) { return (a != a || a > b) ? a : b; }
template <typename T> __device__ __forceinline__ T _tk_min(T a, T b) { return (a != a || a < b) ? a : b; }
template <typename T> __device__ __forceinline__ T _tk_sign(T a) { return a > T(0) ? T(1) : (a < T(0) ? T(-1) : a); }
"""


class _Emitter:
    def __init__(self, rule, flags, present):
        self.rule = rule
        self.flags = flags
        self.present = present
        self.declared = set()
        self.bool_vars = set()
        self.lines = []

    def name(self, ident):
        if ident in self.flags:
            return "true" if self.flags[ident] else "false"
        if ident in self.rule.scalars:
            return ident
        return "v_" + ident

    def expr(self, node) -> str:
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return f"({self.expr(node.left)} {_BINOPS[type(node.op)]} {self.expr(node.right)})"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return f"(-{self.expr(node.operand)})"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return f"(!{self.expr(node.operand)})"
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMPOPS:
            return f"({self.expr(node.left)} {_CMPOPS[type(node.ops[0])]} {self.expr(node.comparators[0])})"
        if isinstance(node, ast.BoolOp):
            op = " && " if isinstance(node.op, ast.And) else " || "
            return "(" + op.join(self.expr(v) for v in node.values) + ")"
        if isinstance(node, ast.IfExp):
            return f"({self.expr(node.test)} ? {self.expr(node.body)} : {self.expr(node.orelse)})"
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "M"
            and node.func.attr in _FUNCS
        ):
            args = [self.expr(a) for a in node.args]
            if node.func.attr == "where":
                return f"({args[0]} ? {args[1]} : {args[2]})"
            return f"{_FUNCS[node.func.attr]}({', '.join(args)})"
        raise NotImplementedError(
            f"rule {self.rule.name!r}: cannot translate {ast.dump(node)[:80]} to CUDA "
            "(rules may use arithmetic, comparisons, flags and M.<sqrt|maximum|minimum|abs|sign|where>)"
        )

    def stmt(self, node, indent):
        pad = "    " * indent
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target = node.targets[0].id
            value = self.expr(node.value)
            is_bool = isinstance(node.value, (ast.Compare, ast.BoolOp))
            var = self.name(target)
            if target not in self.declared:
                self.declared.add(target)
                self.lines.insert(0, f"    {'bool' if is_bool else 'T'} {var};")
            self.lines.append(f"{pad}{var} = {value};")
        elif isinstance(node, ast.If):
            self.lines.append(f"{pad}if ({self.expr(node.test)}) {{")
            for s in node.body:
                self.stmt(s, indent + 1)
            if node.orelse:
                self.lines.append(f"{pad}}} else {{")
                for s in node.orelse:
                    self.stmt(s, indent + 1)
            self.lines.append(f"{pad}}}")
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
            for out, val in zip(self.rule.outputs, node.value.elts):
                if out in self.present:
                    self.lines.append(f"{pad}{out} = {self.expr(val)};")
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            pass  # docstring
        else:
            raise NotImplementedError(
                f"rule {self.rule.name!r}: statement {type(node).__name__} is not supported in CUDA translation"
            )


def translate(rule, flags: dict, present: tuple[str, ...]) -> tuple[str, str, str]:
    """``(in_params, out_params, body)`` of the ElementwiseKernel for ``rule``."""
    tree = ast.parse(rule.source)
    fn = tree.body[0]
    em = _Emitter(rule, flags, present)
    first = rule.arrays[0]
    loads = []
    for a in rule.arrays:
        em.declared.add(a)
        src = a if a in present else first
        loads.append(f"    T v_{a} = {src};")
    for s in fn.body:
        em.stmt(s, 1)
    decls = [line for line in em.lines if line.startswith("    ") and line.rstrip().endswith(";") and line.split()[0] in ("T", "bool") and "=" not in line]
    body_lines = [line for line in em.lines if line not in decls]
    body = "\n".join(loads + decls + body_lines)
    inputs = [f"T {a}" for a in rule.arrays if a in present and a not in rule.outputs]
    inputs += [f"T {s}" for s in rule.scalars]
    outputs = [f"T {a}" for a in rule.arrays if a in present and a in rule.outputs]
    return ", ".join(inputs), ", ".join(outputs), body


def get_kernel(rule, flags: dict, present: tuple[str, ...]):
    """The (cached) ``cupy.ElementwiseKernel`` for this rule/flags/arrays combination."""
    key = (rule.name, rule.fn, tuple(sorted(flags.items())), present)
    kernel = _KERNELS.get(key)
    if kernel is None:
        cupy = _cupy()
        in_params, out_params, body = translate(rule, flags, present)
        kernel = cupy.ElementwiseKernel(
            in_params, out_params, body, f"trainkit_{rule.name}", preamble=_PREAMBLE
        )
        _KERNELS[key] = kernel
    return kernel


def run_cupy(rule, arrays, scalars, flags) -> None:
    """One kernel launch updating the flat cupy arrays in place."""
    present = tuple(a for a in rule.arrays if arrays.get(a) is not None)
    kernel = get_kernel(rule, flags, present)
    inputs = [arrays[a] for a in rule.arrays if a in present and a not in rule.outputs]
    inputs += [scalars[s] for s in rule.scalars]
    outputs = [arrays[a] for a in rule.arrays if a in present and a in rule.outputs]
    kernel(*inputs, *outputs)


def bind_cupy(rule, arrays, flags):
    """A callable ``run(values)``: one kernel launch per call (through :func:`run_cupy`).

    ``values`` are the rule's scalars in order (Python floats), cast to the arrays' dtype here.
    """
    dtype = arrays[rule.arrays[0]].dtype.type

    def run(values) -> None:
        run_cupy(rule, arrays, {k: dtype(v) for k, v in zip(rule.scalars, values)}, flags)

    return run
