"""E-Akte integrity check: every stored document read back against its row (`rathaus documents verify`)."""

import io

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from rathaus.documents.models import Document
from rathaus.documents.services import store_document, verify_documents


def doc(tenant, content: bytes, title="Anlage", case=None):
    return store_document(tenant=tenant, case=case, kind=Document.Kind.OTHER, title=title, filename=f"{title}.txt",
                          content_type="text/plain", content=content, actor="test")


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("documents", "verify", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def path_of(d: Document):
    return default_storage.path(d.file.name)


def test_intact_documents_pass(seeded):
    t = seeded["musterstadt"]
    for i in range(3):
        doc(t, f"Inhalt {i} äöü".encode())
    report = verify_documents(tenant=t)
    assert report.checked == 3 and report.found == 0 and report.problems == []
    out, err = run("--tenant", "musterstadt")
    assert "3 Dokumente geprüft" in out and "alle unversehrt" in out and err == ""


def test_missing_changed_and_truncated_files_are_found(seeded, submit):
    from rathaus.cases.models import Case

    t = seeded["musterstadt"]
    case = Case.objects.get(pk=submit()["id"])
    ok = doc(t, b"bleibt wie er ist")
    gone = doc(t, b"wird geloescht", title="Weg", case=case)
    changed = doc(t, b"Betrag: 26,00 EUR", title="Bescheid")
    cut = doc(t, b"wird gekuerzt", title="Kurz")
    import os

    os.remove(path_of(gone))
    with open(path_of(changed), "r+b") as f:  # same size, other content
        f.write(b"Betrag: 96")
    with open(path_of(cut), "r+b") as f:
        f.truncate(4)
    report = verify_documents(tenant=t)
    problems = {p.document_id: p for p in report.problems}
    assert report.found == 3 and ok.pk not in problems
    assert problems[gone.pk].problem == "Datei fehlt" and problems[gone.pk].case == case.reference
    assert problems[changed.pk].problem == "Inhalt verändert (SHA-256 stimmt nicht)"
    assert problems[cut.pk].problem == "Größe 4 statt 13 Bytes"
    err = io.StringIO()
    with pytest.raises(CommandError, match="mit Befund"):
        call_command("documents", "verify", stdout=io.StringIO(), stderr=err)
    assert f"Dokument {gone.pk} (musterstadt {case.reference}, „Weg“" in err.getvalue()
    assert "Datei fehlt" in err.getvalue()


def test_other_tenants_and_filters(seeded):
    t, other = seeded["musterstadt"], seeded["beispielhausen"]
    theirs = doc(other, b"fremd")
    import os

    os.remove(path_of(theirs))
    doc(t, b"eigen")
    out, _ = run("--tenant", "musterstadt")
    assert "alle unversehrt" in out
    with pytest.raises(CommandError):
        run("--tenant", "beispielhausen")
    out, _ = run("--tenant", "musterstadt", "--since", "2999-01-01")
    assert "0 Dokumente geprüft" in out
    with pytest.raises(CommandError, match="Unbekannter Mandant"):
        run("--tenant", "gibtsnicht")
    with pytest.raises(CommandError, match="kein Datum"):
        run("--since", "gestern")
