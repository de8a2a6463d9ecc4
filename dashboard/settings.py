"""Settings, read from the environment.

The embedded mode is the one without DATABASE_URL (what `make run` starts): SQLite in the data
folder (WAL, short transactions), tasks in-process without a broker, plain HTTP on loopback and a
secret key generated once into the data folder.  Anything with DATABASE_URL is a production
deployment: it sets SECRET_KEY (refused without it), CELERY_BROKER_URL, CACHE_URL, ALLOWED_HOSTS,
the EMAIL_* variables and, behind TLS, HTTPS and SECURE_PROXY_SSL_HEADER (see README).
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the embedded defaults keep their files (SQLite database, generated secret key).
DATA_DIR = Path(os.environ.get("DASHBOARD_DATA_DIR", os.getcwd())).resolve()


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _local_secret_key() -> str:
    """A key generated once per installation and kept beside the database, never in the repo.

    Created with O_EXCL, written in full under a temporary name first: of processes starting
    together (the web server and a management command), exactly one creates it, and every one
    reads the same complete key."""
    path = DATA_DIR / ".dashboard-secret-key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(draft, path)  # fails if another process got there first: theirs is kept
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


# The embedded mode (`make run`, the tests' SQLite pass): no database server configured.
EMBEDDED = not os.environ.get("DATABASE_URL")
SECRET_KEY = os.environ.get("SECRET_KEY", "").strip()
if not SECRET_KEY:
    if not EMBEDDED:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. DATABASE_URL is set, so this is a production deployment: set "
            "SECRET_KEY to a long random value shared by every process (web, workers, beat), e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`. Only the embedded mode "
            "(no DATABASE_URL) generates one into DASHBOARD_DATA_DIR."
        )
    SECRET_KEY = _local_secret_key()
DEBUG = _env_bool("DEBUG", False)
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "dashboard.apps.DashboardAdminConfig",  # django.contrib.admin, for dashboard admins only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # Along the data flow (ARCHITECTURE.md): each app imports only the ones above it here.
    "inventory",
    "arrays",
    "exposure",
    "tenancy",
    "dashboard",
]

MIDDLEWARE = [
    # Outermost: no collection rescans what a page builds (dashboard/collector_pause.py).
    "dashboard.collector_pause.CollectorPausedDuringRequest",
    "django.middleware.security.SecurityMiddleware",
    # The CSP on every response (static files too), no-store on logged-in pages.
    "dashboard.security_headers.SecurityHeadersMiddleware",
    # Serves static files (collected in production, from the source folders otherwise) without a
    # separate web server; unknown paths (`/static/../x`) fall through to the URLs: 404.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages, not static files (above it, WhiteNoise answers first).  BREACH needs a secret in a
    # compressed body beside text the attacker chooses: the pages hold no secret but the CSRF
    # token, which Django masks afresh on every response; sessions live in cookies, not bodies.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

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
                "dashboard.context_processors.reader",
                "dashboard.context_processors.demo_banner",
            ],
        },
    },
]

# --- Web security -----------------------------------------------------------------------------
# HTTPS=true: the dashboard is reached over TLS (directly or through a proxy; README's production
# setup sets it, `check --deploy` asks for it).  Off unless set: `make run` serves plain HTTP on
# loopback, and a deployment without TLS must not redirect to a port no one listens on.  It makes
# cookies Secure, redirects HTTP to HTTPS (SECURE_SSL_REDIRECT) and sends HSTS (SECURE_HSTS_SECONDS).
HTTPS = _env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer's plain-HTTP health check
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS") or (31536000 if HTTPS else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", False)
# Preloading is the domain owner's decision (and a submission to browsers' lists), not this app's.
SILENCED_SYSTEM_CHECKS = ["security.W021"]


def _proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """`X-Forwarded-Proto` (or `Header: value`, value https by default) → Django's WSGI name and value.
    Set it only when the proxy in front always sets (or strips) that header."""
    if not value.strip():
        return None
    name, _, expected = value.partition(":")
    return ("HTTP_" + name.strip().upper().replace("-", "_"), expected.strip() or "https")


SECURE_PROXY_SSL_HEADER = _proxy_ssl_header(os.environ.get("SECURE_PROXY_SSL_HEADER", ""))
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# dashboard/security_headers.py sends it on every response.  No inline script or style, no eval:
# scripts are same-origin files (the charts' strict plotly.js build), data reaches them through
# json_script (a <script type="application/json">, which is data, not script).
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

# --- Database -------------------------------------------------------------------------------
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "dashboard.sqlite3",
            "OPTIONS": {
                # WAL lets the web process read while the in-process scheduler writes;
                # IMMEDIATE takes the write lock up front so writers queue instead of failing.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
if os.environ.get("CACHE_URL", "").startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["CACHE_URL"],
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------------
# Without a broker the same tasks run in-process (the embedded scheduler calls them); the
# in-memory transport only keeps kombu from looking for a broker host that does not exist.
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("CELERY_BROKER_URL")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("SNAPSHOT_SOFT_TIME_LIMIT", "1500"))
CELERY_TASK_TIME_LIMIT = int(os.environ.get("SNAPSHOT_TIME_LIMIT", "1800"))
# Redis redelivers an unacknowledged task after this long.  Two runs never overlap whatever it is
# (the cluster lease does that); it only decides when a killed task's message comes back, by which
# time the dispatcher has restarted the dead run from the database.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": max(3600, 2 * CELERY_TASK_TIME_LIMIT)}
# A broker that goes away (Redis restarted) is reconnected to, forever, at startup as later.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A broker blip must not kill a running snapshot: the lease, not the broker connection, guards it.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_RESULT_BACKEND_ALWAYS_RETRY = True
# A pool process left larger than this (KiB) after a task is replaced: a big snapshot's freed memory
# stays pinned in CPython's heap by the few objects that outlive it (inventory/memory.py returns what
# it can), and a fresh process gives all of it back.  0 turns it off.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = int(os.environ.get("WORKER_MAX_MEMORY_PER_CHILD_KIB", "524288")) or None
# A worker remembers its last snapshot of this many clusters (inventory/cluster_memory.py): the kept
# fields of the objects read, reused for those whose resourceVersion has not moved at the next read
# (inventory/kept_reuse.py), and the derivation's work, reused for volumes whose inputs are equal
# (arrays/volume_access.py); 0: none.  Kept across tasks only while the pool process is, so a big
# cluster's needs the limit above that process's size.
KEPT_FORMS_REUSED_CLUSTERS = int(os.environ.get("KEPT_FORMS_REUSED_CLUSTERS", "4"))
DISPATCH_INTERVAL_SECONDS = float(os.environ.get("DISPATCH_INTERVAL_SECONDS", "60"))
CELERY_BEAT_SCHEDULE = {
    # One tick decides, from the database, which clusters are due (or have lost their task) and queues them.
    "dispatch-due-snapshots": {
        "task": "inventory.tasks.dispatch_due_snapshots",
        "schedule": DISPATCH_INTERVAL_SECONDS,
        # Ticks missed while no worker ran are dropped, not piled up.
        "options": {"expires": DISPATCH_INTERVAL_SECONDS},
    },
}
# The weekly digest (digest/): the dispatcher decides from the database who is due, each tick.
DIGEST_DISPATCH_INTERVAL_SECONDS = float(os.environ.get("DIGEST_DISPATCH_INTERVAL_SECONDS", "300"))
CELERY_BEAT_SCHEDULE["dispatch-due-digests"] = {
    "task": "digest.tasks.dispatch_due_digests",
    "schedule": DIGEST_DISPATCH_INTERVAL_SECONDS,
    "options": {"expires": DIGEST_DISPATCH_INTERVAL_SECONDS},
}
# A run's hold on its cluster, renewed by a heartbeat; a dead run's lapses within this.  Half a
# dispatch interval: a killed run is restarted by the first or second tick after it died.
SNAPSHOT_LEASE_SECONDS = float(
    os.environ.get("SNAPSHOT_LEASE_SECONDS") or max(5.0, DISPATCH_INTERVAL_SECONDS / 2)
)
# The Kubernetes API's transient failures (5xx, 429, a broken connection) are retried after this many
# seconds, doubling each time (jittered, at most 30 s apart), a bounded number of attempts.
KUBERNETES_RETRY_SECONDS = float(os.environ.get("KUBERNETES_RETRY_SECONDS", "0.5"))
# A snapshot that wrote at least this many inventory rows refreshes PostgreSQL's planner statistics
# (inventory/planner_statistics.py); 0: never.
ANALYZE_AFTER_ROWS = int(os.environ.get("ANALYZE_AFTER_ROWS", "10000"))

# --- Email ----------------------------------------------------------------------------------
# The embedded mode (`make run`, the demo) with no mail server configured writes each message as a
# file under DATA_DIR/sent-mail instead of trying port 25 of this machine every week.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend"
    if EMBEDDED and not os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = DATA_DIR / "sent-mail"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = _env_bool("EMAIL_USE_SSL")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "exposure-dashboard@localhost")
# A silent SMTP server must not hold a digest's lease (DIGEST_LEASE_SECONDS) to its end.
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "30"))

# --- The weekly digest (digest/) ---------------------------------------------------------------
# When a recipient who chose nothing gets it: Monday (0) at 08:00 in this zone.
DIGEST_WEEKDAY = int(os.environ.get("DIGEST_WEEKDAY", "0"))
DIGEST_HOUR = int(os.environ.get("DIGEST_HOUR", "8"))
DIGEST_TIME_ZONE = os.environ.get("DIGEST_TIME_ZONE", "UTC")
# The site's public URL: the digest's links (to pages, to unsubscribe) start with it.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# A send moment missed by more than this (the dashboard was down, the recipient is new) is skipped
# until the next one: a digest arriving days late, or on a recipient's first day, misleads.
DIGEST_CATCH_UP_HOURS = float(os.environ.get("DIGEST_CATCH_UP_HOURS", "24"))
# A worker's hold on one recipient-week; one that dies holding it is replaced once it lapses.  Far
# longer than one SMTP conversation (EMAIL_TIMEOUT per step), so a live sender never loses it.
DIGEST_LEASE_SECONDS = float(os.environ.get("DIGEST_LEASE_SECONDS", "600"))
# Failed sends retry after 1, 2, 4 … minutes (at most an hour apart), then give up (shown in the admin).
DIGEST_RETRY_SECONDS = float(os.environ.get("DIGEST_RETRY_SECONDS", "60"))
DIGEST_RETRY_MAX_SECONDS = float(os.environ.get("DIGEST_RETRY_MAX_SECONDS", "3600"))
DIGEST_MAX_ATTEMPTS = int(os.environ.get("DIGEST_MAX_ATTEMPTS", "24"))

# --- Auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# dashboard/login_throttle.py first: it refuses, before any password is checked, a username or a
# client address with too many failed sign-ins in the window (counted in the cache).
AUTHENTICATION_BACKENDS = [
    "dashboard.login_throttle.ThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_THROTTLE_USER_FAILURES = int(os.environ.get("LOGIN_THROTTLE_USER_FAILURES", "5"))
LOGIN_THROTTLE_ADDRESS_FAILURES = int(os.environ.get("LOGIN_THROTTLE_ADDRESS_FAILURES", "20"))
LOGIN_THROTTLE_WINDOW_SECONDS = int(os.environ.get("LOGIN_THROTTLE_WINDOW_SECONDS", "900"))
# How many reverse proxies in front append to X-Forwarded-For (0: REMOTE_ADDR is the client).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production runs `collectstatic` into STATIC_ROOT; without it, WhiteNoise serves from the app folders.
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True
# Files browsers ask for at the site's root (favicon.ico: every page, the admin's included, would
# otherwise log a 404 in the console and the server log).
WHITENOISE_ROOT = BASE_DIR / "static" / "root"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # The SolidFire SDK logs raw responses (CHAP secrets included) at DEBUG: never go below INFO.
        "solidfire": {"level": "WARNING"},
        "solidfire.Element": {"level": "WARNING"},
        # urllib3 at DEBUG logs request lines; the Kubernetes client at DEBUG logs bodies.
        "urllib3": {"level": "WARNING"},
        "kubernetes": {"level": "WARNING"},
    },
}
if CELERY_TASK_ALWAYS_EAGER:
    # Tasks run in-process (the embedded mode): each snapshot logs its own summary line, so Celery's
    # "Task … succeeded" line (the task's whole return value) would only repeat it.
    LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}
    # No broker, so no broker host: kombu's "No hostname was supplied" warning is about nothing.
    LOGGING["loggers"]["kombu.connection"] = {"level": "ERROR"}

# --- REST API (api/, under /api/v1/) ---------------------------------------------------------
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar", "api", "digest"]
# Development only, no models: `manage.py bench` (issue 13's benchmark) and its simulator process.
INSTALLED_APPS += ["benchmark"]
# Requests per token (per user when signed in with a session) in each window, counted in the cache
# above: Redis in production, so the limit holds across web processes.  Empty: no limit.
API_THROTTLE_RATE = os.environ.get("API_THROTTLE_RATE", "600/minute").strip() or None
REST_FRAMEWORK = {
    # Tools present a token (`manage.py api_token`); the browser (the docs page) its session.  No
    # anonymous access, and no password on the API (sign-ins stay on the throttled login form).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.CursorPagination",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Storage Exposure Dashboard API",
    "DESCRIPTION": "What the dashboard shows, for tools: scoped and redacted for the token's user as "
    "the pages are for them. Authenticate with `Authorization: Token <key>` (`manage.py api_token`). "
    'Errors: `{"error": {"code", "message", "details"}}`. Requests are limited per token '
    "(API_THROTTLE_RATE, 600/minute by default): over it, 429 with Retry-After.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # The docs page's assets from drf-spectacular-sidecar: served by us, offline, under the CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "SnapshotStatusEnum": "inventory.models.Snapshot.Status",
        "FindingStatusEnum": [("open", "open"), ("resolved", "resolved"), ("suppressed", "suppressed")],
    },
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None, "persistAuthorization": False},
}

# --- Product settings -------------------------------------------------------------------------
# Serve the built-in simulated cluster while no real cluster is registered.
DEMO_ENABLED = _env_bool("DEMO_ENABLED", True)
# The largest file an offline dump may hold (inventory/sources/dump_files.py); bigger ones are refused.
DUMP_MAX_FILE_BYTES = int(os.environ.get("DUMP_MAX_FILE_BYTES", str(1 << 30)))

# Where array credential references may point (arrays/credentials.py): `env:PREFIX` only for
# these prefixes, never the product's own secrets; `file:DIR` only inside this folder.
ARRAY_CREDENTIAL_ENV_PREFIXES = _env_list("ARRAY_CREDENTIAL_ENV_PREFIXES", "ARRAY_")
ARRAY_CREDENTIALS_DIR = Path(os.environ.get("ARRAY_CREDENTIALS_DIR") or DATA_DIR / "credentials").resolve()
