"""Shared fixtures: a seeded demo database (Musterstadt, Beispielhausen) with the demo services and
the small `testdienst` fixture package; API clients with bearer tokens."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# the public test data the tests read, vendored (tests/corpora/SOURCES.md); einvoice.conformance reads it from here
os.environ["RATHAUS_CORPORA"] = str(Path(__file__).resolve().parent / "corpora")
TESTDIENST = FIXTURES / "services" / "testdienst"
TESTDIENST_EXAMPLE = {"vorname": "Erika", "nachname": "Mustermann", "email": "erika@example.org", "menge": 2.5,
                      "tarif": "b"}


@pytest.fixture(autouse=True)
def _fast_hashers(settings, tmp_path):
    from rathaus.catalog.services import forget_current_versions

    forget_current_versions()  # per-process cache; the database is rolled back between tests
    # the failed-lookup counts of core.throttle: in memory per test (the database cache of the settings is
    # exercised by tests/test_throttle_shared.py), so that tests without database access may clear it
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from django.core.cache import cache

    cache.clear()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        # the durable storage with its syncs on (off by default in settings): every test exercises that path
        "default": {"BACKEND": "rathaus.documents.storage.DurableFileSystemStorage",
                    "OPTIONS": {"location": str(tmp_path / "documents"), "fsync": True}},
    }


def seed_everything():
    from rathaus.catalog.services import publish_package
    from rathaus.demo.seed import seed_demo
    from rathaus.tenants.models import Tenant
    from rathaus.tenants.services import invalidate_org_cache

    invalidate_org_cache()
    seed_demo(with_cases=False)
    for t in Tenant.objects.all():
        publish_package(TESTDIENST, tenant=t, actor="test")
    invalidate_org_cache()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.test.utils import override_settings

    with django_db_blocker.unblock(), override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
    ):
        seed_everything()


@pytest.fixture
def seeded(db):
    """The session-seeded database (rolled back after each test)."""
    from rathaus.tenants.models import Tenant

    return {t.slug: t for t in Tenant.objects.all()}


@pytest.fixture
def seeded_tx(transactional_db):
    """For tests that need real commits (concurrency): seed inside the transactional test."""
    from django.test.utils import override_settings

    from rathaus.tenants.models import Tenant

    if not Tenant.objects.exists():
        with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
            seed_everything()
    return {t.slug: t for t in Tenant.objects.all()}


class ApiClient:
    """Django test client speaking JSON with a bearer token."""

    def __init__(self, token: str | None = None, host: str = "localhost"):
        self.client = Client(HTTP_HOST=host)
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def get(self, path, **params):
        return self.client.get(path, params, **self.headers)

    def post(self, path, body=None, raw: bytes | str | None = None, content_type="application/json", **extra):
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(path, data=data, content_type=content_type, **self.headers, **extra)


@pytest.fixture
def api(seeded):
    from rathaus.tenants.services import issue_token

    cache = {}

    def make(username: str | None = None, host: str = "localhost") -> ApiClient:
        if username is None:
            return ApiClient(host=host)
        if username not in cache:
            cache[username] = issue_token(username)
        return ApiClient(cache[username], host=host)

    return make


@pytest.fixture
def submit(api):
    def do(service="testdienst", data=None, tenant="musterstadt", **headers):
        body = {"service": service, "data": data if data is not None else dict(TESTDIENST_EXAMPLE)}
        r = api().post(f"/api/v1/submissions?tenant={tenant}", body, **headers)
        assert r.status_code in (200, 201), r.content
        return r.json()

    return do


def is_postgres() -> bool:
    return connection.vendor == "postgresql"
