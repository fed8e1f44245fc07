"""The audit log: a per-tenant hash chain, append-only in the database, checked by `rathaus audit verify`."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from rathaus.events.models import AuditEntry, AuditHead
from rathaus.events.services import GENESIS, compute_hash, verify_chain


def audit_verify(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("audit", "verify", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def flow(api, submit, seeded):
    """A case worked to the end: submission, claim, two completions (several audit entries)."""
    sub = submit()
    clerk, boss = api("sachbearbeitung"), api("stellvertretung")
    task = clerk.get("/api/v1/tasks", case=sub["id"]).json()[0]
    assert clerk.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    assert clerk.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"decision": "approve"}}).status_code == 200
    task = boss.get("/api/v1/tasks", case=sub["id"]).json()[0]
    assert boss.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"decision": "approve"}}).status_code == 200
    submit(tenant="beispielhausen")
    return sub


def entries(tenant):
    return list(AuditEntry.objects.filter(tenant=tenant).order_by("seq"))


def drop_append_only_triggers():
    """Simulate an attacker with DDL rights (rolled back with the test transaction)."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("DROP TRIGGER audit_no_update ON events_auditentry")
        else:
            cur.execute("DROP TRIGGER audit_no_update")
            cur.execute("DROP TRIGGER audit_no_delete")


def test_chain_verifies_after_a_flow(flow, seeded):
    ms = seeded["musterstadt"]
    actions = [e.action for e in entries(ms)]
    for action in ("case.submitted", "task.claimed", "task.completed", "case.status_changed"):
        assert action in actions
    result = verify_chain(ms)
    assert result.ok, result.error
    assert result.entries == len(actions) == AuditHead.objects.get(tenant=ms).seq
    assert verify_chain(seeded["beispielhausen"]).ok
    out, err = audit_verify()
    assert "musterstadt" in out and "Kette unversehrt" in out and err == ""


def test_chain_links_are_consistent(flow, seeded):
    prev = GENESIS
    for i, e in enumerate(entries(seeded["musterstadt"]), 1):
        assert e.seq == i and e.prev_hash == prev
        assert e.hash == compute_hash(prev, seq=e.seq, at=e.at, actor=e.actor, action=e.action,
                                      object_type=e.object_type, object_id=e.object_id, data=e.data)
        prev = e.hash


def test_chain_entries_are_per_tenant(flow, seeded):
    bh = entries(seeded["beispielhausen"])
    assert bh[0].prev_hash == GENESIS and bh[0].seq == 1
    assert not [e for e in bh if e.data.get("reference") == flow["reference"] and e.action == "task.claimed"]


@pytest.mark.parametrize("sql", [
    "UPDATE events_auditentry SET actor = 'mallory' WHERE id = %s",
    "DELETE FROM events_auditentry WHERE id = %s",
])
def test_update_and_delete_are_refused_by_the_database(flow, seeded, sql):
    victim = entries(seeded["musterstadt"])[1]
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [victim.pk])
    victim.refresh_from_db()
    assert victim.actor != "mallory"
    assert verify_chain(seeded["musterstadt"]).ok


def test_orm_update_is_refused_too(flow, seeded):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(tenant=seeded["musterstadt"]).update(actor="mallory")


def test_forged_entry_with_a_wrong_hash_breaks_the_chain(flow, seeded):
    ms = seeded["musterstadt"]
    head = AuditHead.objects.get(tenant=ms)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO events_auditentry (tenant_id, seq, at, actor, action, object_type, object_id, data, "
            "prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [ms.pk, head.seq + 1, timezone.now(), "mallory", "case.deleted", "case", str(flow["id"]),
             connection.ops.adapt_json_value({}, None),
             head.hash, "f" * 64],
        )
    result = verify_chain(ms)
    assert not result.ok
    assert f"Eintrag {head.seq + 1}" in result.error and "verändert" in result.error
    assert result.entries == head.seq  # everything before the forgery is intact
    with pytest.raises(CommandError, match="Protokollkette verletzt"):
        audit_verify()
    # other tenants are unaffected
    out, _ = audit_verify("--tenant", "beispielhausen")
    assert "Kette unversehrt" in out


def test_forged_entry_with_a_correct_hash_is_caught_by_the_head(flow, seeded):
    ms = seeded["musterstadt"]
    head = AuditHead.objects.get(tenant=ms)
    at = timezone.now()
    forged = dict(seq=head.seq + 1, at=at, actor="mallory", action="case.deleted", object_type="case",
                  object_id=str(flow["id"]), data={})
    AuditEntry.objects.create(tenant=ms, prev_hash=head.hash, hash=compute_hash(head.hash, **forged), **forged)
    result = verify_chain(ms)
    assert not result.ok and "Kettenende" in result.error
    with pytest.raises(CommandError):
        audit_verify("--tenant", "musterstadt")


def test_changed_entry_breaks_the_chain(flow, seeded):
    ms = seeded["musterstadt"]
    victim = entries(ms)[1]
    drop_append_only_triggers()
    AuditEntry.objects.filter(pk=victim.pk).update(data={**victim.data, "reference": "XYZ-0000-000000"})
    result = verify_chain(ms)
    assert not result.ok
    assert result.error == f"Eintrag {victim.seq}: Inhalt wurde verändert"
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("audit", "verify", stdout=io.StringIO(), stderr=err)
    assert f"musterstadt: FEHLER nach {victim.seq - 1} Einträgen" in err.getvalue()


def test_deleted_entry_breaks_the_chain(flow, seeded):
    ms = seeded["musterstadt"]
    all_entries = entries(ms)
    drop_append_only_triggers()
    AuditEntry.objects.filter(pk=all_entries[2].pk).delete()
    result = verify_chain(ms)
    assert not result.ok and "Lücke" in result.error


def test_deleted_last_entry_breaks_the_chain(flow, seeded):
    ms = seeded["musterstadt"]
    drop_append_only_triggers()
    AuditEntry.objects.filter(pk=entries(ms)[-1].pk).delete()
    result = verify_chain(ms)
    assert not result.ok and "Kettenende" in result.error


def test_chain_hash_is_the_same_whoever_computes_it(seeded):
    """On PostgreSQL the database computes the new head's SHA-256 (one statement per entry); it must be
    byte for byte compute_hash(): umlauts, nested data, numbers, a tenant's very first entry."""
    from rathaus.events.services import record_change
    from rathaus.tenants.models import Tenant

    fresh = Tenant.objects.create(name="Neustadt", slug="neustadt", ags="05111000")
    AuditHead.objects.filter(tenant=fresh).delete()  # no head yet: created on the first entry
    payloads = [{}, {"grund": "Prüfung ergab Mängel – „Zaun“ zu hoch", "betrag": "12.50"},
                {"liste": [1, 2.5, None, True], "verschachtelt": {"z": 1, "a": {"ß": "€"}}},
                # text that looks like the submission statement's placeholders is kept as it is
                {"grund": "@@rathaus:reference@@", "x": ["@@rathaus:case@@", "@@rathaus:unbekannt@@"]}]
    with transaction.atomic():
        for i, data in enumerate(payloads):
            record_change(tenant=fresh, actor="Jürgen Müller", action="test.geändert", object_type="case",
                          object_id=1000 + i, data=data, event_type="test.geändert")
    entries = list(AuditEntry.objects.filter(tenant=fresh).order_by("seq"))
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert [e.data for e in entries] == payloads
    prev = GENESIS
    for e in entries:
        assert e.prev_hash == prev
        assert e.hash == compute_hash(prev, seq=e.seq, at=e.at, actor=e.actor, action=e.action,
                                      object_type=e.object_type, object_id=e.object_id, data=e.data)
        prev = e.hash
    head = AuditHead.objects.get(tenant=fresh)
    assert (head.seq, head.hash) == (4, prev)
    assert verify_chain(fresh).ok


# --------------------------------------------------------------------------- anchors


def audit_anchor(*args) -> list[dict]:
    import json

    out = io.StringIO()
    call_command("audit", "anchor", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def rewrite_chain_from(tenant, seq: int, **changes):
    """What someone with DDL rights can do: change entry `seq` and recompute every hash after it, head
    included, so that the chain is consistent in itself again."""
    drop_append_only_triggers()
    prev = GENESIS
    for e in entries(tenant):
        if e.seq == seq:
            for k, v in changes.items():
                setattr(e, k, v)
        if e.seq >= seq:
            h = compute_hash(prev, seq=e.seq, at=e.at, actor=e.actor, action=e.action, object_type=e.object_type,
                             object_id=e.object_id, data=e.data)
            AuditEntry.objects.filter(pk=e.pk).update(prev_hash=prev, hash=h, **changes if e.seq == seq else {})
            e.hash = h
        prev = e.hash
    AuditHead.objects.filter(tenant=tenant).update(hash=prev)


def test_anchor_prints_each_tenants_head_and_appends_to_a_file(flow, seeded, tmp_path):
    ms = seeded["musterstadt"]
    head = AuditHead.objects.get(tenant=ms)
    anchors = audit_anchor()
    by_tenant = {a["tenant"]: a for a in anchors}
    assert by_tenant["musterstadt"]["seq"] == head.seq and by_tenant["musterstadt"]["hash"] == head.hash
    assert "beispielhausen" in by_tenant and by_tenant["musterstadt"]["at"]
    f = tmp_path / "anker.jsonl"
    audit_anchor("--tenant", "musterstadt", "--append", str(f))
    audit_anchor("--tenant", "musterstadt", "--append", str(f))
    assert len(f.read_text().splitlines()) == 2  # appended, not overwritten
    out, err = audit_verify("--anchors", str(f))
    assert "musterstadt: " in out and "2 Anker passen" in out and err == ""
    assert "beispielhausen" in out and "keine Anker" in out


def test_rewritten_chain_passes_the_chain_check_but_not_the_anchors(flow, seeded, tmp_path):
    ms = seeded["musterstadt"]
    f = tmp_path / "anker.jsonl"
    audit_anchor("--append", str(f))
    victim = entries(ms)[1]
    rewrite_chain_from(ms, victim.seq, actor="mallory")
    assert verify_chain(ms).ok  # consistent in itself: the chain alone cannot tell
    audit_verify()
    err = io.StringIO()
    with pytest.raises(CommandError, match="Protokollkette verletzt"):
        call_command("audit", "verify", "--anchors", str(f), stdout=io.StringIO(), stderr=err)
    assert "musterstadt: FEHLER" in err.getvalue() and "anderen Hash (Kette neu geschrieben?)" in err.getvalue()
    assert "beispielhausen" not in err.getvalue()


def test_truncated_chain_is_caught_by_an_anchor(flow, seeded, tmp_path):
    ms = seeded["musterstadt"]
    f = tmp_path / "anker.jsonl"
    audit_anchor("--tenant", "musterstadt", "--append", str(f))
    last = entries(ms)[-1]
    drop_append_only_triggers()
    AuditEntry.objects.filter(pk=last.pk).delete()
    AuditHead.objects.filter(tenant=ms).update(seq=last.seq - 1, hash=last.prev_hash)
    assert verify_chain(ms).ok
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("audit", "verify", "--anchors", str(f), stdout=io.StringIO(), stderr=err)
    assert f"Eintrag {last.seq} fehlt (Protokoll gekürzt?)" in err.getvalue()


def test_anchors_taken_earlier_still_match_after_more_entries(flow, seeded, submit, tmp_path):
    f = tmp_path / "anker.jsonl"
    audit_anchor("--append", str(f))
    submit()  # the chain grows; the old anchor is an earlier entry now
    out, err = audit_verify("--anchors", str(f))
    assert "musterstadt" in out and "1 Anker passt" in out and err == ""


@pytest.mark.parametrize("text, message", [
    ('{"tenant": "musterstadt", "seq": 1}\n', "Zeile 1: kein Anker"),
    ('# Anker\n\nkein json\n', "Zeile 3: kein Anker"),
    ('{"tenant": "musterstadt", "seq": -1, "hash": "' + "a" * 64 + '"}\n', "seq muss eine Zahl"),
    ('{"tenant": "musterstadt", "seq": "3", "hash": "' + "a" * 64 + '"}\n', "seq muss eine Zahl"),
    ('{"tenant": "musterstadt", "seq": 3, "hash": "xyz"}\n', "hash 64 Hex-Zeichen"),
    ('{"tenant": "musterstadt", "seq": 0, "hash": "' + "a" * 64 + '"}\n', "seq 0 hat den Anfangs-Hash"),
])
def test_damaged_anchor_file_is_refused_with_the_line(flow, seeded, tmp_path, text, message):
    f = tmp_path / "anker.jsonl"
    f.write_text(text)
    with pytest.raises(CommandError, match=message):
        audit_verify("--anchors", str(f))


def test_missing_anchor_file_and_unknown_tenant_are_clear_errors(seeded, tmp_path):
    with pytest.raises(CommandError, match="Ankerdatei .*nicht-da.jsonl"):
        audit_verify("--anchors", str(tmp_path / "nicht-da.jsonl"))
    with pytest.raises(CommandError, match="Unbekannter Mandant: gibtsnicht"):
        audit_anchor("--tenant", "gibtsnicht")
    with pytest.raises(CommandError, match="Ankerdatei"):
        audit_anchor("--append", str(tmp_path / "kein-ordner" / "a.jsonl"))
