"""The failed-lookup counts of core.throttle live in the database cache of the settings (table rathaus_cache,
created by migration core 0001): every server process and every restart sees the same counts."""

import pytest
from django.core.cache.backends.db import DatabaseCache
from django.db import connection

from rathaus.core import throttle

DB_CACHE = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "rathaus_cache",
                        "OPTIONS": {"MAX_ENTRIES": 100_000}}}


def test_the_settings_use_the_database_cache_and_migrate_created_its_table(db):
    from django.conf import LazySettings

    fresh = LazySettings()  # the module as written, not conftest's per-test memory cache
    assert fresh.CACHES == DB_CACHE
    assert "rathaus_cache" in connection.introspection.table_names()


def test_failures_counted_by_one_process_limit_another(db, settings):
    settings.CACHES = DB_CACHE
    settings.RATHAUS_STATUS_FAILURES_PER_CLIENT = 3
    for _ in range(3):
        throttle.check("198.51.100.7")
        throttle.failed("198.51.100.7")
    # another server process: its own cache object, the same table
    other = DatabaseCache("rathaus_cache", {})
    count, _start = other.get("rathaus:fail:client:198.51.100.7")
    assert count == 3
    with pytest.raises(throttle.TooManyAttempts):
        throttle.check("198.51.100.7")
    throttle.check("198.51.100.8")  # other clients are not affected


def test_status_api_answers_429_with_the_database_cache(db, settings, api, submit):
    settings.CACHES = DB_CACHE
    settings.RATHAUS_STATUS_FAILURES_PER_CLIENT = 2
    sub = submit()
    client = api().client
    url = f"/api/v1/submissions/{sub['reference']}"
    for _ in range(2):
        assert client.get(url, {"access_code": "AAAA-BBBB-CCCC"}).status_code == 404
    assert client.get(url, {"access_code": sub["access_code"]}).status_code == 429
