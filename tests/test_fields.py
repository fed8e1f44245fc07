"""core.fields.JSONTextField: JSON stored as text (the case's workflow state)."""

import pytest
from django.db import connection

from tests.conftest import TESTDIENST_EXAMPLE


@pytest.mark.django_db
def test_workflow_state_round_trips_as_text(seeded):
    from rathaus.cases.models import Case
    from rathaus.cases.services import submit_application

    case = submit_application(seeded["musterstadt"], "testdienst", dict(TESTDIENST_EXAMPLE)).case
    fresh = Case.objects.get(pk=case.pk)
    assert isinstance(fresh.workflow_state, dict) and fresh.workflow_state == case.workflow_state
    with connection.cursor() as cur:
        cur.execute("SELECT workflow_state FROM cases_case WHERE id = %s", [case.pk])
        raw = cur.fetchone()[0]
    assert isinstance(raw, str) and raw.startswith("{")  # text as written, not jsonb
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'cases_case' "
                        "AND column_name = 'workflow_state'")
            assert cur.fetchone()[0] == "text"


def test_json_text_field_values():
    from rathaus.core.fields import JSONTextField

    f = JSONTextField()
    value = {"ä": [1, 2.5, None, True], "nested": {"x": "ü"}}
    text = f.get_prep_value(value)
    assert text == '{"ä":[1,2.5,null,true],"nested":{"x":"ü"}}'
    assert f.from_db_value(text, None, connection) == value
    assert f.to_python(text) == value and f.to_python(value) is value
    assert f.get_prep_value(None) is None and f.from_db_value(None, None, connection) is None
