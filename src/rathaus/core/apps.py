from django.apps import AppConfig

# psycopg converts a query's %s placeholders to PostgreSQL's $n on every execution unless the query is in
# its small LRU cache, which it only uses for queries of at most 50 parameters. The submission's one
# statement (counter, case, history, tasks, audit, outbox as one CTE) has more: without the cache its
# conversion is a noticeable share of the intake's CPU (docs/benchmarks.md). Statements with up to
# PSYCOPG_CACHED_PARAMS parameters are cached; the cache stays at psycopg's 128 entries (LRU).
PSYCOPG_CACHED_PARAMS = 200


def cache_long_statements() -> None:
    try:
        from psycopg import _queries
    except ImportError:  # SQLite-only installation
        return
    if getattr(_queries, "MAX_CACHED_STATEMENT_PARAMS", PSYCOPG_CACHED_PARAMS) < PSYCOPG_CACHED_PARAMS:
        _queries.MAX_CACHED_STATEMENT_PARAMS = PSYCOPG_CACHED_PARAMS


class Config(AppConfig):
    name = "rathaus.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        cache_long_statements()
