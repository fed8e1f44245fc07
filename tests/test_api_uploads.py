"""Attachments with the application: multipart/form-data on POST /submissions, checked by magic bytes and
size before any case is opened."""

import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from rathaus.cases.models import Case
from rathaus.documents.models import Document

from .conftest import TESTDIENST_EXAMPLE

PROBLEM = "application/problem+json"
URL = "/api/v1/submissions?tenant=musterstadt"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def upload(api, files: dict, data=None, service="testdienst", **extra):
    form = {"service": service, "data": json.dumps(data if data is not None else TESTDIENST_EXAMPLE)}
    for key, (name, content, ctype) in files.items():
        form[key] = SimpleUploadedFile(name, content, content_type=ctype)
    return api().client.post(URL, form, **extra)


@pytest.fixture
def case_count(seeded):
    return lambda: Case.objects.filter(tenant=seeded["musterstadt"]).count()


def errors_of(r, status=422):
    assert r.status_code == status, (r.status_code, r.content[:500])
    assert r["Content-Type"] == PROBLEM
    return {e["pointer"]: e["message"] for e in r.json().get("errors", [])}


def test_pdf_is_stored_in_the_e_file(api, case_count):
    before = case_count()
    r = upload(api, {"nachweis": ("Nachweis Mai.pdf", PDF, "application/pdf")})
    assert r.status_code == 201, r.content
    sub = r.json()
    assert case_count() == before + 1
    case = api("sachbearbeitung").get(f"/api/v1/cases/{sub['id']}").json()
    [doc] = case["documents"]
    assert doc["kind"] == "attachment"
    assert doc["title"] == "Nachweis"
    assert doc["content_type"] == "application/pdf"
    assert doc["size"] == len(PDF)
    assert doc["sha256"] == hashlib.sha256(PDF).hexdigest()
    content = api("sachbearbeitung").get(doc["url"])
    assert content.status_code == 200
    assert b"".join(content.streaming_content) == PDF
    assert content["Content-Type"] == "application/pdf"


def test_content_type_is_taken_from_the_bytes(api):
    r = upload(api, {"nachweis": ("bild.pdf", PNG, "application/pdf")})  # PNG is allowed too
    assert r.status_code == 201, r.content
    doc = Document.objects.get(case_id=r.json()["id"])
    assert doc.content_type == "image/png"


def test_text_declared_as_pdf_is_refused(api, case_count):
    before = case_count()
    r = upload(api, {"nachweis": ("boese.pdf", b"just text, no pdf", "application/pdf")})
    errs = errors_of(r)
    assert list(errs) == ["/attachments/nachweis"]
    assert "Dateityp" in errs["/attachments/nachweis"]
    assert case_count() == before


def test_disallowed_type_is_refused(api, case_count):
    before = case_count()
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 32  # JPEG is not among testdienst's content types
    errs = errors_of(upload(api, {"nachweis": ("foto.jpg", jpeg, "image/jpeg")}))
    assert list(errs) == ["/attachments/nachweis"]
    assert case_count() == before


def test_file_over_the_attachment_limit_is_refused(api, case_count):
    before = case_count()
    big = PDF + b"0" * (1024 * 1024)  # testdienst: max_size_mb 1
    r = upload(api, {"nachweis": ("gross.pdf", big, "application/pdf")})
    assert r.status_code in (413, 422), r.content
    if r.status_code == 422:
        assert "zu groß" in errors_of(r)["/attachments/nachweis"]
    assert case_count() == before
    assert not Document.objects.filter(size=len(big)).exists()


def test_request_over_the_global_limit_is_413_without_reading_it(api, case_count, settings):
    settings.RATHAUS_MAX_UPLOAD_BYTES = 64 * 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024
    before = case_count()
    r = upload(api, {"nachweis": ("riesig.pdf", PDF + b"0" * (200 * 1024), "application/pdf")})
    assert r.status_code == 413 and r["Content-Type"] == PROBLEM, r.content
    assert case_count() == before


def test_unknown_attachment_key_is_refused(api, case_count):
    before = case_count()
    errs = errors_of(upload(api, {"lebenslauf": ("cv.pdf", PDF, "application/pdf")}))
    assert list(errs) == ["/attachments/lebenslauf"]
    assert case_count() == before


def test_empty_file_is_refused(api, case_count):
    before = case_count()
    errs = errors_of(upload(api, {"nachweis": ("leer.pdf", b"", "application/pdf")}))
    assert "/attachments/nachweis" in errs
    assert case_count() == before


def test_two_files_for_one_key_are_refused(api, case_count):
    before = case_count()
    form = {"service": "testdienst", "data": json.dumps(TESTDIENST_EXAMPLE),
            "nachweis": [SimpleUploadedFile("a.pdf", PDF, "application/pdf"),
                         SimpleUploadedFile("b.pdf", PDF, "application/pdf")]}
    errs = errors_of(api().client.post(URL, form))
    assert list(errs) == ["/attachments/nachweis"]
    assert case_count() == before


def test_form_errors_come_before_attachment_storage(api, case_count):
    before = case_count()
    errs = errors_of(upload(api, {"nachweis": ("n.pdf", PDF, "application/pdf")},
                            data={**TESTDIENST_EXAMPLE, "email": "kaputt"}))
    assert list(errs) == ["/data/email"]
    assert case_count() == before
    assert not Document.objects.filter(sha256=hashlib.sha256(PDF).hexdigest(), case__isnull=True).exists()


@pytest.mark.parametrize("form,expected", [
    ({"data": json.dumps(TESTDIENST_EXAMPLE)}, {"/service"}),
    ({"service": "testdienst"}, {"/data"}),
    ({"service": "testdienst", "data": "{kein json"}, {"/data"}),
    ({"service": "testdienst", "data": "[1, 2]"}, {"/data"}),
])
def test_multipart_envelope_errors(api, form, expected):
    assert set(errors_of(api().client.post(URL, form))) == expected


def test_multipart_without_files_works(api):
    r = api().client.post(URL, {"service": "testdienst", "data": json.dumps(TESTDIENST_EXAMPLE)})
    assert r.status_code == 201, r.content
    assert not Document.objects.filter(case_id=r.json()["id"]).exists()


def test_multipart_idempotency(api):
    files = {"nachweis": ("n.pdf", PDF, "application/pdf")}
    first = upload(api, files, HTTP_IDEMPOTENCY_KEY="mp-1")
    again = upload(api, files, HTTP_IDEMPOTENCY_KEY="mp-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert Document.objects.filter(case_id=first.json()["id"]).count() == 1


def test_broken_multipart_is_4xx(api):
    r = api().client.post(URL, data=b"--xyz\r\nnonsense", content_type="multipart/form-data; boundary=xyz")
    assert 400 <= r.status_code < 500 and r["Content-Type"] == PROBLEM, (r.status_code, r.content)
    r = api().client.post(URL, data=b"abc", content_type="multipart/form-data")  # no boundary
    assert 400 <= r.status_code < 500 and r["Content-Type"] == PROBLEM, (r.status_code, r.content)


def test_openapi_documents_multipart(api):
    doc = api().get("/api/v1/openapi.json").json()
    content = doc["paths"]["/api/v1/submissions"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data"}
    mp = content["multipart/form-data"]["schema"]
    assert {"service", "data"} <= set(mp["properties"])
    assert mp["additionalProperties"]["format"] == "binary"


def test_no_csrf_token_needed(seeded):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    form = {"service": "testdienst", "data": json.dumps(TESTDIENST_EXAMPLE),
            "nachweis": SimpleUploadedFile("n.pdf", PDF, content_type="application/pdf")}
    assert client.post(URL, form).status_code == 201
    r = client.post(URL, {"service": "testdienst", "data": TESTDIENST_EXAMPLE}, content_type="application/json")
    assert r.status_code == 201
