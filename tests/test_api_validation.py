"""Hostile and invalid input to the API: every answer is a problem+json with the right status, never a 500;
field errors name their JSON pointer and speak German."""

import json

import pytest

from rathaus.cases.models import Case

from .conftest import TESTDIENST_EXAMPLE

PROBLEM = "application/problem+json"
URL = "/api/v1/submissions?tenant=musterstadt"


def problem_of(r, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.content[:500])
    assert r["Content-Type"] == PROBLEM
    body = r.json()
    assert body["status"] == status
    assert body["title"] and body["type"]
    return body


def pointers(body: dict) -> dict[str, str]:
    return {e["pointer"]: e["message"] for e in body.get("errors", [])}


def example(**changes):
    data = dict(TESTDIENST_EXAMPLE)
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    return data


@pytest.fixture
def post(api):
    client = api()

    def do(body=None, **kw):
        return client.post(URL, body, **kw)

    return do


# --------------------------------------------------------------------------- schema validation

def test_missing_required_field_names_the_field(post):
    body = problem_of(post({"service": "testdienst", "data": example(nachname=None)}), 422)
    errs = pointers(body)
    assert set(errs) == {"/data/nachname"}
    assert "Pflichtfeld" in errs["/data/nachname"] and "nachname" in errs["/data/nachname"]


@pytest.mark.parametrize("field,value,expected", [
    ("email", "keine-adresse", "E-Mail-Adresse"),
    ("iban", "DE00123456780000000000", "IBAN ist ungültig"),
    ("iban", "DE89370400440532013001", "IBAN ist ungültig"),  # check digits wrong
    ("menge", "viel", "Erwartet wird: Zahl."),
    ("menge", 5000, "höchstens 1000"),
    ("vorname", 42, "Erwartet wird: Text."),
    ("vorname", "", "Bitte füllen Sie dieses Feld aus."),
    ("tarif", "z", "vorgegebenen Werte"),
])
def test_wrong_format_or_type_points_at_the_field(post, field, value, expected):
    body = problem_of(post({"service": "testdienst", "data": example(**{field: value})}), 422)
    errs = pointers(body)
    assert list(errs) == [f"/data/{field}"], errs
    assert expected in errs[f"/data/{field}"]


def test_valid_iban_is_accepted(post):
    r = post({"service": "testdienst", "data": example(iban="DE89 3704 0044 0532 0130 00".replace(" ", ""))})
    assert r.status_code == 201, r.content


def test_unknown_property_is_reported(post):
    body = problem_of(post({"service": "testdienst", "data": example(hobby="Angeln")}), 422)
    [(ptr, msg)] = pointers(body).items()
    assert ptr in ("/data", "/data/hobby")
    assert msg.startswith("Unbekanntes Feld") and "hobby" in msg


def test_unknown_property_message_is_german_and_points_at_the_field(post):
    """The additionalProperties message must not leak jsonschema's English ("'x' was unexpected")."""
    body = problem_of(post({"service": "testdienst", "data": example(hobby="Angeln")}), 422)
    assert pointers(body) == {"/data/hobby": "Unbekanntes Feld: hobby"}


def test_all_errors_are_reported_at_once_sorted_by_pointer(post):
    data = {"vorname": 1, "email": "x", "menge": -1}
    body = problem_of(post({"service": "testdienst", "data": data}), 422)
    ptrs = [e["pointer"] for e in body["errors"]]
    assert ptrs == sorted(ptrs)
    assert {"/data/vorname", "/data/nachname", "/data/email", "/data/menge"} <= set(ptrs)
    for e in body["errors"]:
        assert set(e) == {"pointer", "message"}  # no internal fields leak


def test_unknown_service_is_404(post):
    body = problem_of(post({"service": "gibt-es-nicht", "data": {}}), 404)
    assert "gibt-es-nicht" in body["detail"]


def test_unknown_tenant_is_404(api):
    problem_of(api().post("/api/v1/submissions?tenant=nirgendwo", {"service": "testdienst", "data": {}}), 404)


@pytest.mark.parametrize("body,expected", [
    ({}, {"/service", "/data"}),
    ({"service": "testdienst"}, {"/data"}),
    ({"data": dict(TESTDIENST_EXAMPLE)}, {"/service"}),
    ({"service": "testdienst", "data": [1, 2]}, {"/data"}),
    ({"service": "testdienst", "data": "text"}, {"/data"}),
    ({"service": "testdienst", "data": None}, {"/data"}),
    ({"service": 5, "data": {}}, {"/service"}),
])
def test_envelope_errors_have_pointers(post, body, expected):
    errs = pointers(problem_of(post(body), 422))
    assert set(errs) == expected
    assert all(m and m[0].isupper() for m in errs.values())


def test_non_object_data_message_is_german(post):
    errs = pointers(problem_of(post({"service": "testdienst", "data": [1]}), 422))
    assert errs["/data"] == "Erwartet wird ein JSON-Objekt."


def test_top_level_array_is_422(post):
    problem_of(post(raw="[1, 2]"), 422)


def test_invalid_submissions_create_no_case(post, seeded):
    before = Case.objects.count()
    post({"service": "testdienst", "data": example(email="x")})
    post(raw="{nope")
    post({"service": "testdienst", "data": [1]})
    assert Case.objects.count() == before


# --------------------------------------------------------------------------- hostile bodies

def test_malformed_json_is_400(post):
    body = problem_of(post(raw='{"service": "testdienst", "data": {'), 400)
    assert "JSON" in body["title"]


@pytest.mark.parametrize("raw", [b"\xff\xfe\x00garbage", b"NaN-ish {", b'{"a": 1,}'])
def test_garbage_bodies_are_400(post, raw):
    problem_of(post(raw=raw), 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_415(post, content_type):
    raw = json.dumps({"service": "testdienst", "data": TESTDIENST_EXAMPLE})
    if content_type == "application/xml":
        raw = "<antrag><service>testdienst</service></antrag>"
    problem_of(post(raw=raw, content_type=content_type), 415)


def test_json_with_charset_is_accepted(post):
    raw = json.dumps({"service": "testdienst", "data": TESTDIENST_EXAMPLE})
    assert post(raw=raw, content_type="application/json; charset=utf-8").status_code == 201


def test_oversized_body_is_413(post, settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 2 * 1024 * 1024
    raw = json.dumps({"service": "testdienst", "data": example(vorname="x" * (2 * 1024 * 1024 + 10))})
    problem_of(post(raw=raw), 413)


@pytest.mark.parametrize("raw", [
    '{"service": "testdienst", "data": ' + "[" * 200_000 + "]" * 200_000 + "}",
    '{"service": "testdienst", "data": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}",
    '{"service": "testdienst", "data": ' + '{"a": ' * 500 + "1" + "}" * 500 + "}",  # parses, still too deep
])
def test_deep_nesting_is_4xx(post, raw):
    r = post(raw=raw)
    assert 400 <= r.status_code < 500 and r["Content-Type"] == PROBLEM, (r.status_code, r.content[:300])


def test_wide_but_flat_json_is_a_plain_validation_error(post):
    data = example(**{f"feld{i}": i for i in range(5000)})
    body = problem_of(post({"service": "testdienst", "data": data}), 422)
    assert body["errors"]


def test_long_idempotency_key_is_422(post):
    r = post({"service": "testdienst", "data": example()}, HTTP_IDEMPOTENCY_KEY="k" * 201)
    problem_of(r, 422)


def test_status_lookup_needs_access_code(api, submit):
    sub = submit()
    errs = pointers(problem_of(api().get(f"/api/v1/submissions/{sub['reference']}"), 422))
    assert "/access_code" in errs
    problem_of(api().get(f"/api/v1/submissions/{sub['reference']}", access_code="AAAA-BBBB-CCCC"), 404)
    ok = api().get(f"/api/v1/submissions/{sub['reference'].lower()}", access_code=sub["access_code"].lower())
    assert ok.status_code == 200 and ok.json()["reference"] == sub["reference"]


# --------------------------------------------------------------------------- clerk endpoints

@pytest.mark.parametrize("method,path", [
    ("get", "/api/v1/tasks"), ("get", "/api/v1/cases"), ("get", "/api/v1/cases/1"),
    ("post", "/api/v1/tasks/1/claim"), ("post", "/api/v1/tasks/1/release"), ("post", "/api/v1/tasks/1/complete"),
    ("get", "/api/v1/documents/1/content"),
])
@pytest.mark.parametrize("auth", [None, "Bearer", "Bearer rh_nonsense", "Bearer " + "x" * 500, "Basic dXNlcjpwdw=="])
def test_clerk_endpoints_need_a_valid_token(api, method, path, auth):
    client = api().client
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    if method == "get":
        r = client.get(path, **extra)
    else:
        r = client.post(path, data="{}", content_type="application/json", **extra)
    problem_of(r, 401)
    assert r["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_401(api, seeded):
    from django.utils import timezone

    from rathaus.tenants.models import ApiToken

    client = api("sachbearbeitung")
    assert client.get("/api/v1/tasks").status_code == 200
    ApiToken.objects.update(revoked_at=timezone.now())
    problem_of(client.get("/api/v1/tasks"), 401)


def test_complete_with_malformed_json_is_400(api, submit):
    sub = submit()
    clerk = api("sachbearbeitung")
    task = clerk.get("/api/v1/tasks", case=sub["id"]).json()[0]
    problem_of(clerk.post(f"/api/v1/tasks/{task['id']}/complete", raw="{oops"), 400)
    problem_of(clerk.post(f"/api/v1/tasks/{task['id']}/complete", raw="[" * 100_000), 422)
    problem_of(clerk.post(f"/api/v1/tasks/{task['id']}/complete", raw='{"data": 1}', content_type="text/plain"),
               415)
    errs = pointers(problem_of(clerk.post(f"/api/v1/tasks/{task['id']}/complete", {"data": [1]}), 422))
    assert errs == {"/data": "Erwartet wird ein JSON-Objekt."}
    errs = pointers(problem_of(clerk.post(f"/api/v1/tasks/{task['id']}/complete", {}), 422))
    assert errs == {"/data": "Pflichtangabe fehlt."}


def test_non_numeric_ids_are_4xx(api):
    clerk = api("sachbearbeitung")
    for r in (clerk.get("/api/v1/cases/abc"), clerk.post("/api/v1/tasks/abc/claim"),
              clerk.get("/api/v1/documents/1e9/content")):
        assert r.status_code in (404, 422) and r["Content-Type"] == PROBLEM, (r.status_code, r.content)


def test_huge_ids_are_404(api):
    clerk = api("sachbearbeitung")
    problem_of(clerk.get(f"/api/v1/cases/{2**62}"), 404)
    problem_of(clerk.post(f"/api/v1/tasks/{2**62}/claim"), 404)


# --------------------------------------------------------------------------- values a database cannot take

@pytest.mark.parametrize("path", [
    "/api/v1/cases/100000000000000000000", "/api/v1/cases/0", "/api/v1/cases/-1",
    "/api/v1/tasks?case=100000000000000000000", "/api/v1/documents/100000000000000000000/content",
])
def test_out_of_range_ids_are_422(api, path):
    clerk = api("sachbearbeitung")
    r = clerk.client.get(path, **clerk.headers)
    body = problem_of(r, 422)
    assert body["errors"][0]["message"] in ("Der Wert ist zu klein.", "Der Wert ist zu groß.")


def test_out_of_range_task_ids_are_422(api):
    clerk = api("sachbearbeitung")
    problem_of(clerk.post("/api/v1/tasks/100000000000000000000/claim"), 422)
    problem_of(clerk.post("/api/v1/tasks/0/complete", {"data": {}}), 422)


@pytest.mark.parametrize("query", ["offset=100000000000000000000", "limit=100000000000000000000", "offset=-5",
                                   "status=%00", "service=%00", "limit=0"])
def test_odd_list_parameters_are_harmless(api, query):
    clerk = api("sachbearbeitung")
    r = clerk.client.get(f"/api/v1/cases?{query}", **clerk.headers)
    assert r.status_code == 200, r.content
    assert isinstance(r.json(), list)


@pytest.mark.parametrize("path", [
    "/api/v1/services?tenant=%00", "/api/v1/services/a%00b", "/api/v1/services/" + "a" * 5000,
    "/api/v1/submissions/a%00b?access_code=x", "/api/v1/submissions/TST?access_code=x%00",
    "/api/v1/submissions/" + "A" * 5000 + "?access_code=x",
])
def test_nul_bytes_and_long_keys_are_404(api, path):
    problem_of(api().client.get(path), 404)


@pytest.mark.parametrize("raw,pointer", [
    ('{"service": "testdienst", "data": {"vorname": "a\\u0000b"}}', "/data/vorname"),
    ('{"service": "testdienst", "data": {"a\\u0000": 1}}', "/data"),
    ('{"service": "test\\u0000dienst", "data": {}}', "/service"),
])
def test_nul_characters_in_json_are_422(post, raw, pointer):
    assert pointer in pointers(problem_of(post(raw=raw), 422))


def test_nul_in_idempotency_key_is_422(post):
    problem_of(post({"service": "testdienst", "data": example()}, HTTP_IDEMPOTENCY_KEY="a\x00b"), 422)


def test_failed_status_lookups_are_limited_per_client(api, submit, settings):
    """core.throttle: after the allowed failures a client's lookups answer 429 with Retry-After, even with the
    right code (the limit is checked first); other clients are not affected (no lock-out of an Aktenzeichen)."""
    settings.RATHAUS_STATUS_FAILURES_PER_CLIENT = 3
    sub = submit()
    url = f"/api/v1/submissions/{sub['reference']}"
    client = api().client

    def look(code, addr="127.0.0.1", path=url):
        return client.get(path, {"access_code": code}, REMOTE_ADDR=addr)

    for _ in range(3):
        problem_of(look("AAAA-BBBB-CCCC"), 404)
    r = look(sub["access_code"])
    body = problem_of(r, 429)
    assert "Zu viele erfolglose Versuche" in body["detail"] and 0 < int(r["Retry-After"]) <= 15 * 60
    problem_of(look(sub["access_code"], path=f"{url}/documents/1/content"), 429)  # documents alike
    # many failures from other addresses do not lock the applicant out
    for i in range(10):
        problem_of(look("AAAA-BBBB-CCCC", f"192.0.2.{10 + i}"), 404)
    assert look(sub["access_code"], "192.0.2.99").status_code == 200


@pytest.mark.parametrize("reference,code", [("GEW-2026-\x00001", "AAAA-BBBB-CCCC"), ("X" * 500, "AAAA-BBBB-CCCC"),
                                            ("TST-2026-000001", "AAAA\x00BBBB-CCCC"), ("TST-2026-000001", "A" * 5000)])
def test_status_lookup_with_hostile_reference_or_code_is_404(api, reference, code):
    from urllib.parse import quote

    problem_of(api().client.get(f"/api/v1/submissions/{quote(reference)}", {"access_code": code}), 404)
    problem_of(api().client.get(f"/api/v1/submissions/{quote(reference)}/documents/1/content",
                                {"access_code": code}), 404)


# --------------------------------------------------------------------------- text a database cannot store

@pytest.mark.parametrize("raw_value,where", [
    ('"Eri\\ud800ka"', "/data/vorname"),  # a lone high surrogate
    ('"\\udfff"', "/data/vorname"),  # a lone low surrogate
    ('"\\ud83d"', "/data/vorname"),  # half of an emoji's pair
])
def test_lone_surrogates_are_422_with_their_pointer_not_500(api, raw_value, where):
    """JSON may escape a lone UTF-16 surrogate; Python decodes it, PostgreSQL cannot store it (the API
    answered 500 to anyone, without a token). Refused like NUL, with the place – as JSON and in the multipart
    `data` field; a real pair (an emoji) is text and accepted."""
    data = json.dumps(example()).replace('"Erika"', raw_value)
    client = api().client
    r = client.post(URL, data=f'{{"service": "testdienst", "data": {data}}}', content_type="application/json")
    errs = pointers(problem_of(r, 422))
    assert where in errs and "Ersatzzeichen" in errs[where]
    r = client.post(URL, {"service": "testdienst", "data": data})  # multipart/form-data
    assert where in pointers(problem_of(r, 422))
    assert not Case.objects.filter(applicant_name__contains="ka Mustermann").exists()


def test_a_lone_surrogate_in_a_key_is_refused_and_a_real_pair_is_text(api):
    client = api().client
    data = json.dumps(example())[:-1] + ', "x\\ud800": 1}'
    r = client.post(URL, data=f'{{"service": "testdienst", "data": {data}}}', content_type="application/json")
    assert "Ersatzzeichen" in pointers(problem_of(r, 422)).get("/data", "")
    data = json.dumps(example()).replace('"Erika"', '"Erika \\ud83d\\ude00"')  # 😀 as an escaped pair
    r = client.post(URL, data=f'{{"service": "testdienst", "data": {data}}}', content_type="application/json")
    assert r.status_code == 201, r.content
    assert Case.objects.get(pk=r.json()["id"]).data["vorname"] == "Erika 😀"


@pytest.mark.parametrize("written", ["{id}.0", "+{id}", " {id}", "0{id}", "{id}%20"])
def test_an_id_has_one_address(api, seeded, written):
    """issue 15: /documents/1.0/content (and +1, " 1", 01) was read as document 1 – pydantic's lax int."""
    from rathaus.intake.services import submit
    from rathaus.notices.services import ensure_receipt

    case = submit(seeded["musterstadt"], "testdienst", dict(TESTDIENST_EXAMPLE)).case
    doc = ensure_receipt(case)
    clerk = api("sachbearbeitung")
    assert clerk.client.get(f"/api/v1/documents/{doc.pk}/content", **clerk.headers).status_code == 200
    for path in (f"/api/v1/documents/{written.format(id=doc.pk)}/content", f"/api/v1/cases/{written.format(id=case.pk)}"):
        body = problem_of(clerk.client.get(path, **clerk.headers), 422)
        assert body["errors"][0]["message"] == "Erwartet wird: ganze Zahl.", body


def test_a_chunked_body_is_411_not_read_as_empty(api):
    """issue 15: a body sent with Transfer-Encoding: chunked (no Content-Length) was read as empty."""
    client = api().client
    body = json.dumps({"service": "testdienst", "data": example()})
    r = client.post(URL, data=body, content_type="application/json", HTTP_TRANSFER_ENCODING="chunked",
                    CONTENT_LENGTH="")
    assert problem_of(r, 411)["detail"].startswith("Der Inhalt der Anfrage muss mit Content-Length")
    r = client.post("/antrag/testdienst/", data="vorname=Erika", content_type="application/x-www-form-urlencoded",
                    HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="")
    assert r.status_code == 411
    assert client.post(URL, data=body, content_type="application/json").status_code == 201
