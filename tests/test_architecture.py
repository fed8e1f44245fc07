"""The house's rules as tests: the import contracts (.importlinter), module size, and the one data move of
issue 13 (reference counters from cases to tenants)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "rathaus"


def test_import_contracts_hold():
    """Layers, no cycle between apps, the named boundaries, domain modules free of views/API (lint-imports)."""
    exe = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(exe), "--no-cache"], cwd=SRC.parents[1], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "BROKEN" not in run.stdout and " 0 broken." in run.stdout


def test_no_handwritten_module_over_700_lines():
    big = []
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 700 and "GENERATED" not in text[:600]:
            big.append(f"{path.relative_to(SRC)} ({text.count(chr(10))})")
    assert not big, big


def test_documents_of_a_case_fail_closed_without_a_case_reader(seeded):
    """documents asks the registered case reader (cases); without one no case document is readable."""
    from rathaus.documents import services as documents
    from rathaus.documents.models import Document
    from rathaus.tenants.models import Membership

    member = Membership.objects.get(user__username="sachbearbeitung")
    doc = Document(tenant=member.tenant, case_id=1, kind=Document.Kind.ATTACHMENT)
    saved = list(documents._case_reader)
    asked = []
    try:
        documents.register_case_reader(lambda m, case_id: asked.append((m.pk, case_id)) or True)
        assert documents.may_read(member, doc) and asked == [(member.pk, 1)]
        documents._case_reader.clear()
        assert not documents.may_read(member, doc)
    finally:
        documents._case_reader[:] = saved


_OLD_COUNTERS = """
import django; django.setup()
from django.db import connection
from django.db.migrations.loader import MigrationLoader
apps = MigrationLoader(connection).project_state(("cases", "0005_case_org_unit")).apps
t = apps.get_model("tenants", "Tenant").objects.create(slug="zaehlstadt", name="Zählstadt", ags="09999998")
counter = apps.get_model("cases", "ReferenceCounter")
counter.objects.create(tenant_id=t.pk, prefix="GEW", year=2026, value=41)
counter.objects.create(tenant_id=t.pk, prefix="KZ", year=2026, value=7)
"""

_NEW_COUNTERS = """
import django; django.setup()
from rathaus.tenants import numbering
from rathaus.tenants.models import ReferenceCounter
print(sorted((c.prefix, c.value) for c in ReferenceCounter.objects.filter(tenant__slug="zaehlstadt")),
      numbering.next_number(ReferenceCounter.objects.get(prefix="GEW").tenant_id, "GEW", 2026))
"""


@pytest.fixture
def fresh_database_url(tmp_path):
    """An empty database of the kind the suite runs on (its own SQLite file, or a new PostgreSQL database)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    import psycopg

    s = connection.settings_dict
    host, port, user = s["HOST"] or "127.0.0.1", s["PORT"] or 5432, s["USER"]
    name = f"rathaus_migtest_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgres://{user}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")


@pytest.mark.django_db
def test_reference_counters_survive_the_move_to_tenants(fresh_database_url):
    """cases 0006 copies every counter into tenants.ReferenceCounter, so that Aktenzeichen, Kassenzeichen
    and Belegnummern go on where they stopped (on a database that was numbering before the move)."""
    env = {**os.environ, "DATABASE_URL": fresh_database_url, "DJANGO_SETTINGS_MODULE": "rathaus.settings"}

    def run(*args):
        out = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout

    run("-m", "rathaus", "migrate", "cases", "0005_case_org_unit", "--noinput")
    run("-c", _OLD_COUNTERS)
    run("-m", "rathaus", "migrate", "--noinput")
    assert run("-c", _NEW_COUNTERS).split() == ["[('GEW',", "41),", "('KZ',", "7)]", "42"]


def test_every_app_has_a_layer_and_a_line_in_the_architecture_doc():
    """docs/architecture.md and .importlinter name every app of INSTALLED_APPS (a new app gets its place)."""
    from django.conf import settings

    apps = [a.split(".")[1] for a in settings.INSTALLED_APPS if a.startswith("rathaus.")]
    contract = (SRC.parents[1] / ".importlinter").read_text(encoding="utf-8")
    doc = (SRC.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    layers = contract.split("layers =")[1].split("\n\n")[0]
    assert [a for a in apps if f"rathaus.{a}" not in layers] == []
    house = doc.split("## The house")[1].split("\n## ")[0]
    assert [a for a in apps if f"`{a}`" not in house] == []
