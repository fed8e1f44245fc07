"""Read-only display: numbers and values as the page's language shows them (`format_number`,
`format_value`) and application or task data as nested description lists (`render_data`)."""

from __future__ import annotations

import datetime as dt

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from .common import _enum_labels, _props, _str_value, _type


def format_number(v) -> str:
    """A number as shown and pre-filled: decimal comma in German, point in English (parsing takes both)."""
    if isinstance(v, bool):
        return _("Ja") if v else _("Nein")
    if isinstance(v, float):
        text = f"{v:.10f}".rstrip("0").rstrip(".")
    else:
        text = str(v)
    return text if (get_language() or "").startswith("en") else text.replace(".", ",")


def format_value(s: dict, v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return _("Ja") if v else _("Nein")
    if "enum" in s:
        for raw, label in _enum_labels(s):
            if raw == _str_value(v):
                return label
    if isinstance(v, int | float):
        return format_number(v)
    if s.get("format") == "date" and isinstance(v, str):
        try:
            return dt.date.fromisoformat(v).strftime("%d.%m.%Y")
        except ValueError:
            return v
    if isinstance(v, list):
        items = s.get("items") or {}
        return ", ".join(format_value(items, x) for x in v)
    return str(v)


def render_data(schema: dict, data, heading_level: int = 3) -> SafeString:
    """Application or task data as nested description lists, labelled with the schema titles."""

    def obj(s: dict, value: dict, level: int) -> str:
        props = _props(s)
        keys = list(props) + [k for k in value if k not in props]
        rows = []
        for k in keys:
            if k not in value:
                continue
            sub = props.get(k) or {}
            title = sub.get("title") or k
            v = value[k]
            t = _type(sub) if sub else ("object" if isinstance(v, dict) else "array" if isinstance(v, list) else "")
            if t == "object" and isinstance(v, dict):
                rows.append(f'<div class="data-group"><p class="data-group__title" role="heading" '
                            f'aria-level="{min(level, 6)}">{escape(title)}</p>{obj(sub, v, level + 1)}</div>')
            elif t == "array" and isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                items = sub.get("items") or {}
                item_title = items.get("title") or _("Eintrag")
                inner = "".join(
                    f'<div class="data-group data-group--item"><p class="data-group__title" role="heading" '
                    f'aria-level="{min(level + 1, 6)}">{escape(item_title)} {i + 1}</p>{obj(items, x, level + 2)}</div>'
                    for i, x in enumerate(v)
                )
                rows.append(f'<div class="data-group"><p class="data-group__title" role="heading" '
                            f'aria-level="{min(level, 6)}">{escape(title)}</p>{inner}</div>')
            else:
                rows.append(f'<div class="data-row"><dt>{escape(title)}</dt><dd>{escape(format_value(sub, v))}</dd></div>')
        # description list rows and groups alternate: wrap consecutive rows in <dl>
        out, buf = [], []
        for r in rows:
            if r.startswith('<div class="data-row">'):
                buf.append(r)
            else:
                if buf:
                    out.append('<dl class="data-list">' + "".join(buf) + "</dl>")
                    buf = []
                out.append(r)
        if buf:
            out.append('<dl class="data-list">' + "".join(buf) + "</dl>")
        return "".join(out)

    if not isinstance(data, dict) or not data:
        return mark_safe('<p class="muted">' + escape(_("Keine Angaben.")) + "</p>")
    return mark_safe(obj(schema or {}, data, heading_level))
