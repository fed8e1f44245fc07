"""Input rules live in the service, so the web form and the API share them."""

import pytest

from rathaus.cases.models import Case
from rathaus.cases.services import submit_application
from rathaus.core.errors import Invalid
from tests.conftest import TESTDIENST_EXAMPLE


def test_nul_characters_are_refused_for_every_channel(seeded):
    before = Case.objects.count()
    with pytest.raises(Invalid) as exc:
        submit_application(seeded["musterstadt"], "testdienst", {**TESTDIENST_EXAMPLE, "vorname": "Eri\x00ka"},
                           channel="web")
    assert exc.value.errors[0]["pointer"] == "/data/vorname"
    assert Case.objects.count() == before
