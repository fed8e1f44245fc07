"""Django settings, configured by environment variables (see README)."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = Path(os.environ.get("RATHAUS_PROJECT_DIR", Path.cwd()))
VAR_DIR = Path(os.environ.get("RATHAUS_VAR_DIR", PROJECT_DIR / "var"))

DEBUG = os.environ.get("RATHAUS_DEBUG", "0").lower() in {"1", "true", "yes", "on"}
SECRET_KEY = os.environ.get("RATHAUS_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and os.environ.get("RATHAUS_REQUIRE_SECRET_KEY"):
        raise RuntimeError("RATHAUS_SECRET_KEY must be set in production")
    SECRET_KEY = "demo-only-insecure-key-0f4c2d8e9a7b6c5d4e3f2a1b0c9d8e7f"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("RATHAUS_ALLOWED_HOSTS", "*").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("RATHAUS_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rathaus.core",
    "rathaus.tenants",
    "rathaus.events",
    "rathaus.catalog",
    "rathaus.documents",
    "rathaus.cases",
    "rathaus.intake",
    "rathaus.workflow",
    "rathaus.ledger",
    "rathaus.finance",
    "rathaus.einvoice",
    "rathaus.notices",
    "rathaus.webhooks",
    "rathaus.demo",
    "django_tasks",
    "django_tasks_db",
    "django_rq",
    "django_tasks_rq",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "rathaus.core.web.LengthRequired",  # a chunked body is 411, not read as empty
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "rathaus.core.i18n.LocaleMiddleware",  # Django's, but the API always answers in German
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "rathaus.tenants.middleware.TenantMiddleware",
]

ROOT_URLCONF = "rathaus.urls"
WSGI_APPLICATION = "rathaus.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rathaus.tenants.context_processors.tenant",
                "rathaus.demo.context_processors.demo_logins",
            ],
        },
    }
]

_default_sqlite = f"sqlite:///{VAR_DIR / 'rathaus.sqlite3'}"
DATABASE_URL = os.environ.get("DATABASE_URL") or _default_sqlite
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=False)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # BEGIN IMMEDIATE: writers queue up instead of failing with "database is locked"
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("RATHAUS_TEST_SQLITE") or None}
elif os.environ.get("RATHAUS_PG_SERVER_BINDING", "1") == "1":
    # Server-side parameter binding: psycopg prepares a statement after its 5th execution on a connection,
    # so the hot paths' statements are parsed and planned once per connection, not per request.
    # Batch jobs whose statements take arrays of thousands of values ask for custom plans in their
    # transaction (core.bulk.custom_plans): PostgreSQL's generic plans for them can be far worse.
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=2)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Django's cache holds only the failed-lookup counts of core.throttle. In the database (table rathaus_cache,
# created by migration core 0001) every server process and every restart sees the same counts; a per-process
# memory cache would multiply the limit by the number of workers.
# MAX_ENTRIES: Django culls a third of the table beyond its default of 300 entries, which many clients at once
# (the very case the limit is for) would reach; expired entries go anyway (15 minutes).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "rathaus_cache",
                      "OPTIONS": {"MAX_ENTRIES": 100_000}}}

LOGIN_URL = "/anmelden/"
LOGIN_REDIRECT_URL = "/sachbearbeitung/"
LOGOUT_REDIRECT_URL = "/"

# The UI speaks German first, English second (docs/i18n.md): German is the default and the source
# language of the catalog (src/rathaus/locale/en/LC_MESSAGES/django.po); the language switch in the page
# header remembers a choice for a year in a cookie, else the browser's Accept-Language decides.
LANGUAGE_CODE = "de"
LANGUAGES = [("de", "Deutsch"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

DATA_DIR = Path(os.environ.get("RATHAUS_DATA_DIR", VAR_DIR / "documents"))
MEDIA_ROOT = DATA_DIR
STORAGES = {
    # write-once documents; RATHAUS_FSYNC_DOCUMENTS=1: synced to disk before their row is committed
    # (documents/storage.py says what that costs)
    "default": {"BACKEND": "rathaus.documents.storage.DurableFileSystemStorage",
                "OPTIONS": {"location": DATA_DIR, "fsync": os.environ.get("RATHAUS_FSYNC_DOCUMENTS", "0") == "1"}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Limits for hostile input
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("RATHAUS_MAX_BODY_BYTES", 2 * 1024 * 1024))
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
RATHAUS_MAX_UPLOAD_BYTES = int(os.environ.get("RATHAUS_MAX_UPLOAD_BYTES", 20 * 1024 * 1024))
# camt.053 bank statements (streamed, never held in memory as a whole)
RATHAUS_MAX_STATEMENT_BYTES = int(os.environ.get("RATHAUS_MAX_STATEMENT_BYTES", 200 * 1024 * 1024))
# from this size on a statement is parsed in a child process on another core (finance.bank.process);
# smaller ones in the importing process (starting the child costs more than parsing them)
RATHAUS_CAMT_PROCESS_BYTES = int(os.environ.get("RATHAUS_CAMT_PROCESS_BYTES", 4 * 1024 * 1024))
# e-invoices (XRechnung/EN 16931) to validate: upper bound of one document
RATHAUS_MAX_EINVOICE_BYTES = int(os.environ.get("RATHAUS_MAX_EINVOICE_BYTES", 20 * 1024 * 1024))
# KoSIT's XRechnung artefacts installed by `rathaus einvoice rules install`
RATHAUS_EINVOICE_RULES_DIR = Path(os.environ.get("RATHAUS_EINVOICE_RULES_DIR", DATA_DIR / "einvoice-rules"))

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

RATHAUS_SHOW_DEMO_LOGINS = os.environ.get("RATHAUS_SHOW_DEMO_LOGINS", "0").lower() in {"1", "true", "yes", "on"}
RATHAUS_DEFAULT_TENANT = os.environ.get("RATHAUS_DEFAULT_TENANT", "musterstadt")

# Background work (docs/operations.md): Django's tasks API. Embedded default: the tasks wait in the database and
# `rathaus worker` runs them (django-tasks-db); RATHAUS_TASKS_BACKEND=rq: they wait in Redis (RATHAUS_REDIS_URL) and
# `rathaus worker` runs RQ's workers – for workers on several hosts.
RATHAUS_TASKS_BACKEND = os.environ.get("RATHAUS_TASKS_BACKEND", "db").strip().lower()
RATHAUS_REDIS_URL = os.environ.get("RATHAUS_REDIS_URL", "redis://127.0.0.1:6379/0")
if RATHAUS_TASKS_BACKEND not in {"db", "rq"}:
    raise RuntimeError("RATHAUS_TASKS_BACKEND must be 'db' or 'rq'")
TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend" if RATHAUS_TASKS_BACKEND == "rq"
                     else "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
RQ_QUEUES = {"default": {"URL": RATHAUS_REDIS_URL, "DEFAULT_TIMEOUT": 600}}

# Webhooks (docs/operations.md): private, loopback and link-local receivers only if allowed (the demo does);
# retry schedule in seconds after each failed attempt (comma-separated; default about 31 hours), then dead
RATHAUS_WEBHOOKS_ALLOW_PRIVATE = os.environ.get("RATHAUS_WEBHOOKS_ALLOW_PRIVATE", "0").lower() in {"1", "true", "yes", "on"}
RATHAUS_WEBHOOKS_RETRY_SCHEDULE = [float(s) for s in os.environ.get("RATHAUS_WEBHOOKS_RETRY_SCHEDULE", "").split(",")
                                   if s.strip()] or None
RATHAUS_WEBHOOKS_THREADS = int(os.environ.get("RATHAUS_WEBHOOKS_THREADS", 16))
# the CloudEvents `source` of a tenant without a host name of its own: this address with ?tenant=<slug>
RATHAUS_PUBLIC_URL = os.environ.get("RATHAUS_PUBLIC_URL", "http://127.0.0.1:8000")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"forbidden_without_traceback": {"()": "rathaus.core.errors.ForbiddenWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"filters": ["forbidden_without_traceback"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("RATHAUS_LOG_LEVEL", "WARNING")},
}
