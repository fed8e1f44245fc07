"""Reading a submitted form: POST → JSON-typed data (`parse`, German or international numbers and dates)
and the state to re-render it with (`FormState`: raw values, rows per group, errors); `initial_state` for
a fresh form."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .common import MAX_ROWS, MISSING, _esc_part, _props, _str_value, _type, _widget
from .display import format_number


@dataclass
class FormState:
    """What the user entered (raw strings, keyed by pointer), rows per group and errors per pointer."""

    values: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    focus: str | None = None  # pointer of a freshly added row (gets autofocus)


@dataclass
class Parsed:
    data: dict
    state: FormState
    action: str | None = None  # None (submit), "add" or "remove"


def _parse_date(raw: str) -> str:
    m = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", raw)
    if m:
        try:
            return dt.date(int(m[3]), int(m[2]), int(m[1])).isoformat()
        except ValueError:
            return raw
    return raw


def parse_number(raw: str, integer: bool = False):
    """German or international notation ("2,5", "1.234,5", "2.5") → int/float; raw string if not a number."""
    r = raw.replace(" ", "").replace("\u00a0", "")
    if "," in r and "." in r:
        # both separators ("1.234,5" German, "1,234.5" English, both forms are shown in two languages): the
        # last one is the decimal separator, the other must group thousands, else it is not a number
        dec = "," if r.rfind(",") > r.rfind(".") else "."
        whole, _, frac = r.rpartition(dec)
        group = "." if dec == "," else ","
        if not (re.fullmatch(rf"[+-]?\d{{1,3}}(?:{re.escape(group)}\d{{3}})+", whole) and frac.isdigit()):
            return raw
        r = f"{whole.replace(group, '')}.{frac}"
    elif "," in r:
        r = r.replace(",", ".")
    if re.fullmatch(r"[+-]?\d+", r):
        return int(r)
    if integer:
        if re.fullmatch(r"[+-]?\d+\.0*", r):
            return int(Decimal(r))
        return raw
    if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", r):
        try:
            d = Decimal(r)
        except InvalidOperation:
            return raw
        return int(d) if d == d.to_integral_value() and "." not in r else float(d)
    return raw


def _enum_value(s: dict, raw: str):
    for v in s.get("enum") or []:
        if _str_value(v) == raw:
            return v
    return raw  # not an allowed value: validation reports it


class _Parser:
    def __init__(self, post, action: tuple | None):
        self.post = post
        self.action = action
        self.compact = action is None
        self.state = FormState()

    def rows_in(self, inp: str) -> int:
        raw = self.post.get(f"_rows:{inp}") or ""
        n = int(raw) if raw.isdigit() else 0
        pref = inp + "/"
        for k in self.post.keys():
            if k.startswith(pref):
                idx = k[len(pref):].split("/", 1)[0]
                if idx.isdigit():
                    n = max(n, int(idx) + 1)
        return min(n, MAX_ROWS)

    def node(self, s: dict, inp: str, out: str, key: str = ""):
        """(value or MISSING, has_content) of the schema node s read at pointer inp, kept at out."""
        t = _type(s)
        if t == "object":
            obj, content = {}, False
            required = set(s.get("required") or [])
            for k, sub in _props(s).items():
                p = "/" + _esc_part(k)
                v, c = self.node(sub, inp + p, out + p, k)
                content = content or c
                if v is MISSING:
                    continue
                if _type(sub) in ("object", "array") and not c and k not in required:
                    continue  # an empty optional group is left out
                obj[k] = v
            return obj, content
        if t == "array":
            items = s.get("items") or {}
            if "enum" in items:  # several choices as checkboxes
                raw = [x for x in self.post.getlist(inp) if x]
                self.state.values[out] = raw
                vals = [_enum_value(items, x) for x in raw]
                return vals, bool(vals)
            n = self.rows_in(inp)
            result, kept = [], 0
            for i in range(n):
                if self.action and self.action[0] == "remove" and self.action[1] == inp and self.action[2] == i:
                    continue
                o = f"{out}/{kept}"
                v, c = self.node(items, f"{inp}/{i}", o)
                if self.compact and not c:
                    for k in [k for k in self.state.values if k == o or k.startswith(o + "/")]:
                        del self.state.values[k]
                    continue
                kept += 1
                if v is not MISSING:
                    result.append(v)
            rows = kept
            if self.action and self.action[0] == "add" and self.action[1] == inp:
                self.state.focus = f"{out}/{max(rows, int(s.get('minItems') or 0), 1)}"
                rows = max(rows, int(s.get("minItems") or 0), 1) + 1
            self.state.rows[out] = rows
            return result, bool(result)
        raw = self.post.get(inp)
        widget = _widget(s, key)
        if t == "boolean" and widget == "checkbox":
            checked = raw not in (None, "")
            self.state.values[out] = "on" if checked else ""
            return checked, checked
        raw = (raw or "").strip()
        self.state.values[out] = raw
        if raw == "":
            return MISSING, False
        if "enum" in s:
            return _enum_value(s, raw), True
        if t == "boolean":
            return {"true": True, "false": False}.get(raw, raw), True
        if t in ("integer", "number"):
            return parse_number(raw, integer=t == "integer"), True
        if s.get("format") == "date":
            iso = _parse_date(raw)
            self.state.values[out] = iso
            return iso, True
        return raw, True


def _action_of(post) -> tuple | None:
    for k in post.keys():
        if k.startswith("_add:"):
            return ("add", k[5:])
        if k.startswith("_remove:"):
            ptr, _, idx = k[8:].rpartition("/")
            if idx.isdigit():
                return ("remove", ptr, int(idx))
    return None


def parse(schema: dict, post) -> Parsed:
    """Read a submitted form: typed data (empty optional fields left out) and the state to re-render."""
    action = _action_of(post)
    p = _Parser(post, action)
    data, _ = p.node(schema, "", "")
    return Parsed(data=data if isinstance(data, dict) else {}, state=p.state,
                  action=action[0] if action else None)


def initial_state(schema: dict, data: dict | None = None) -> FormState:
    """State for a fresh form: schema defaults, or the values of existing data."""
    st = FormState()

    def walk(s, ptr, value, key=""):
        t = _type(s)
        if t == "object":
            for k, sub in _props(s).items():
                v = value.get(k, MISSING) if isinstance(value, dict) else MISSING
                walk(sub, f"{ptr}/{_esc_part(k)}", v, k)
        elif t == "array":
            items = s.get("items") or {}
            if "enum" in items:
                st.values[ptr] = [_str_value(x) for x in value] if isinstance(value, list) else []
                return
            rows = value if isinstance(value, list) else []
            n = max(len(rows), int(s.get("minItems") or 0), 1)
            st.rows[ptr] = n
            for i in range(n):
                walk(items, f"{ptr}/{i}", rows[i] if i < len(rows) else MISSING)
        else:
            if value is MISSING:
                value = s.get("default", MISSING)
            if value is MISSING:
                return
            if t == "boolean" and _widget(s, key) == "checkbox":
                st.values[ptr] = "on" if value else ""
            elif t == "number" and isinstance(value, float):
                st.values[ptr] = format_number(value)
            else:
                st.values[ptr] = _str_value(value)

    walk(schema, "", data if isinstance(data, dict) else MISSING)
    return st
