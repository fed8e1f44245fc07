"""Fee rules of a service package: restricted expressions evaluated with Decimal arithmetic.

An expression may use literals, arithmetic, comparisons, `x if c else y`, subscripts,
comprehensions/generators, `.get(...)` on mappings, and the functions in `FUNCTIONS`. Anything
else (attribute access, imports, lambdas, dunder names) is refused when the package is validated.
Amounts are rounded half-up to cents per item (documented rounding rule, § 2 Abs. 3 of the
Musterstadt fee statute style: "auf volle Cent kaufmännisch gerundet").
"""

from __future__ import annotations

import ast
import calendar
import datetime as dt
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


class FeeError(Exception):
    pass


def round_cents(x) -> Decimal:
    return Decimal(x).quantize(CENT, rounding=ROUND_HALF_UP)


def _date(s) -> dt.date:
    if isinstance(s, dt.date):
        return s
    return dt.date.fromisoformat(str(s))


def days_inclusive(start, end) -> int:
    return (_date(end) - _date(start)).days + 1


def months_remaining(start) -> int:
    d = _date(start)
    return 12 - d.month + 1


def count(items, **conditions) -> int:
    """Number of items (dicts) whose fields equal all given conditions: count(data["hunde"], gefaehrlich=True)."""
    return sum(1 for i in items or [] if all((i or {}).get(k) == v for k, v in conditions.items()))


def ceil(x) -> int:
    return math.ceil(x)


FUNCTIONS = {
    "Decimal": lambda x: Decimal(str(x)),
    "len": len,
    "min": min,
    "max": max,
    "sum": sum,
    "abs": abs,
    "int": int,
    "ceil": ceil,
    "round_cents": round_cents,
    "date": _date,
    "days_inclusive": days_inclusive,
    "months_remaining": months_remaining,
    "count": count,
    "days_in_month": lambda y, m: calendar.monthrange(y, m)[1],
}
NAMES = {"data", "tables", "today", "True", "False", "None"} | set(FUNCTIONS)

_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Call, ast.Name,
    ast.Constant, ast.Subscript, ast.List, ast.Tuple, ast.Dict, ast.keyword, ast.Load, ast.Store,
    ast.GeneratorExp, ast.ListComp, ast.comprehension, ast.Attribute, ast.Slice,
    ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod,
    ast.Pow, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
)


def compile_expression(expr: str):
    """Check and compile an expression; raises FeeError with a German message."""
    if not isinstance(expr, str):
        expr = str(expr)
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as e:
        raise FeeError(f"Syntaxfehler in Ausdruck {expr!r}: {e.msg}") from e
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.comprehension):
            for n in ast.walk(node.target):
                if isinstance(n, ast.Name):
                    bound.add(n.id)
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise FeeError(f"Nicht erlaubtes Sprachelement {type(node).__name__} in {expr!r}")
        if isinstance(node, ast.Attribute) and node.attr != "get":
            raise FeeError(f"Nur .get() ist als Attribut erlaubt, nicht .{node.attr} in {expr!r}")
        if isinstance(node, ast.Name) and node.id not in NAMES and node.id not in bound:
            raise FeeError(f"Unbekannter Name {node.id!r} in {expr!r}")
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise FeeError(f"Nicht erlaubter Name {node.id!r}")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            right = node.right
            if not (isinstance(right, ast.Constant) and isinstance(right.value, int) and 0 <= right.value <= 4):
                raise FeeError(f"Potenzen nur mit kleinem konstantem Exponenten in {expr!r}")
    return compile(tree, "<fee>", "eval")


def to_decimal_tree(obj):
    """JSON data with floats turned into Decimals (exact arithmetic)."""
    if isinstance(obj, float):
        return Decimal(repr(obj))
    if isinstance(obj, dict):
        return {k: to_decimal_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_decimal_tree(v) for v in obj]
    return obj


@dataclass
class FeeLine:
    id: str
    title: str
    legal_basis: str
    amount: Decimal


def _tables(fees: dict) -> dict:
    out = {}
    for name, table in (fees.get("tables") or {}).items():
        out[name] = {str(k): Decimal(str(v)) if _is_number(v) else v for k, v in table.items()}
    return out


def _is_number(v) -> bool:
    try:
        Decimal(str(v))
    except (InvalidOperation, ValueError):
        return False
    return not isinstance(v, bool)


def compute_fees(fees: dict | None, data: dict, today: dt.date | None = None) -> list[FeeLine]:
    """Evaluate the fee items of a service for the given form data."""
    if not fees:
        return []
    env = {
        "__builtins__": {},
        "data": to_decimal_tree(data),
        "tables": _tables(fees),
        "today": today or dt.date.today(),
        "True": True,
        "False": False,
        "None": None,
        **FUNCTIONS,
    }
    lines = []
    for item in fees.get("items") or []:
        cond = item.get("when")
        try:
            if cond not in (None, "", True) and not eval(compile_expression(str(cond)), env):  # noqa: S307
                continue
            value = eval(compile_expression(str(item["amount"])), env)  # noqa: S307
        except FeeError:
            raise
        except Exception as e:  # noqa: BLE001 - report any evaluation error with the item
            raise FeeError(f"Gebühr {item.get('id')!r}: {type(e).__name__}: {e}") from e
        amount = round_cents(value if isinstance(value, Decimal) else Decimal(str(value)))
        if amount < 0:
            raise FeeError(f"Gebühr {item.get('id')!r} ist negativ ({amount})")
        lines.append(FeeLine(item["id"], item.get("title", item["id"]), item.get("legal_basis", ""), amount))
    return lines
