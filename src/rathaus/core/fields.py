"""Model fields of our own."""

from __future__ import annotations

import json

from django.db import models


class JSONTextField(models.TextField):
    """JSON that only Python writes and reads, kept as text.

    For documents the database never looks into (a case's serialized workflow state): on PostgreSQL a
    `JSONField` is `jsonb`, which is parsed into its binary form on every write and rendered back to text on
    every read – for a workflow state of a few KB a noticeable share of PostgreSQL's CPU, on every submission, every
    task completion and every case a page or list loads. As text it is stored and returned as it is."""

    description = "JSON (als Text gespeichert)"

    def from_db_value(self, value, expression, connection):
        return None if value is None else json.loads(value)

    def to_python(self, value):
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def get_prep_value(self, value):
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def value_to_string(self, obj):
        return self.get_prep_value(self.value_from_object(obj))
