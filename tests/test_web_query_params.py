"""Query parameters of the staff and public list pages are the user's: NUL bytes, unknown values and very
long text answer with the page (or a form message), never a 500 — also on PostgreSQL, whose text columns
refuse NUL."""

import pytest
from django.test import Client

HOSTILE = ["\x00", "a\x00b", "'\"<script>%_", "x" * 5000, "-1", "999999"]
PAGES = [
    ("sachbearbeitung", "/sachbearbeitung/", ["leistung", "ueberfaellig", "seite"]),
    ("sachbearbeitung", "/sachbearbeitung/vorgaenge/", ["status", "leistung", "seite"]),
    ("kasse", "/kasse/", ["status", "q", "seite"]),
    ("kasse", "/kasse/klaerfaelle/", ["seite"]),
    ("kasse", "/rechnungen/", ["status", "seite"]),
    ("kaemmerei", "/haushalt/", ["jahr"]),
    ("kaemmerei", "/haushalt/summen-salden/", ["jahr"]),
    ("kaemmerei", "/haushalt/journal/", ["jahr", "konto", "seite"]),
    (None, "/status/", ["aktenzeichen"]),
]


@pytest.mark.parametrize(("user", "url", "names"), PAGES, ids=[p[1] for p in PAGES])
def test_hostile_query_parameters_are_answered(seeded, user, url, names):
    c = Client()
    if user:
        assert c.login(username=user, password="rathaus-demo")
    assert c.get(url).status_code == 200
    for name in names:
        for value in HOSTILE:
            resp = c.get(url, {name: value})
            assert resp.status_code < 500, (name, value, resp.status_code)
