"""JSON Schema → accessible HTML form (no JavaScript needed) and POST → JSON-typed data.

Field names are JSON pointers (``/halter/nachname``, ``/hunde/0/rasse``), so a validation error's
pointer (``/data/hunde/0/rasse`` minus ``/data``) names the field it belongs to. Repeatable groups
(arrays of objects) carry a hidden row count (``_rows:<pointer>``) and submit buttons to add
(``_add:<pointer>``) or remove (``_remove:<pointer>/<index>``) a row; the server re-renders the form
with all input kept.

Rendering follows the GOV.UK / KERN patterns: label, hint and error message tied to the control with
``aria-describedby``, ``aria-invalid`` on invalid controls, radio groups and objects as fieldsets.

Modules: `state` (reading a POST, `parse`, `initial_state`), `render` (`FormRenderer`), `display`
(`render_data`, `format_value`, `format_number`), `messages` (`errors_by_pointer`, `translate_message`,
`register_message_templates`) and `common` (schema helpers they share). Used by the applicant's form
(intake) and the clerk's task forms (cases): ``from rathaus.core import forms``.
"""

from __future__ import annotations

from .common import DECISION_LABELS, MAX_ROWS, MISSING, field_id
from .display import format_number, format_value, render_data
from .messages import PATTERN_MESSAGE, errors_by_pointer, register_message_templates, translate_message
from .render import CONTENT_TYPE_EXT, CONTENT_TYPE_NAMES, FormRenderer
from .state import FormState, Parsed, initial_state, parse, parse_number

__all__ = [
    "CONTENT_TYPE_EXT",
    "CONTENT_TYPE_NAMES",
    "DECISION_LABELS",
    "FormRenderer",
    "FormState",
    "MAX_ROWS",
    "MISSING",
    "PATTERN_MESSAGE",
    "Parsed",
    "errors_by_pointer",
    "field_id",
    "format_number",
    "format_value",
    "initial_state",
    "parse",
    "parse_number",
    "register_message_templates",
    "render_data",
    "translate_message",
]
