"""Django settings, read from the environment.

Every variable is documented in README.md ("Settings"). Defaults are safe for a single
machine: SQLite in ``FLEETWATCH_DATA_DIR``, DEBUG off, loopback-only hosts.
"""

import os
import secrets
from pathlib import Path

import dj_database_url

from fleetwatch import __version__
from fleetwatch.accounts.oidcconfig import OIDCConfig
from fleetwatch.accounts.oidcconfig import groups as oidc_groups
from fleetwatch.connectors.redaction import with_redaction
from fleetwatch.observability.logs import logging_config


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {value!r}") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent


def _private_data_dir(path: Path) -> Path:
    """Create the data directory, if it is missing, readable by its owner only (0700): it
    holds the SQLite database with the API token keys, the secret key and the encryption key.
    A directory that exists is left as it is (it may be one the operator chose and shares)."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by another process starting up
            pass
        else:
            path.chmod(0o700)  # mkdir's mode is masked by the umask; make sure of it
    return path


def _private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it does not exist yet, so that whatever fills it
    later (SQLite; its -wal and -shm files take the database file's mode) keeps it private."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    return path


DATA_DIR = _private_data_dir(
    Path(os.environ.get("FLEETWATCH_DATA_DIR", Path.cwd() / "var")).resolve()
)


def _secret_key() -> str:
    """Use the configured key, else one generated once and kept (mode 0600) in the data dir."""
    if key := os.environ.get("FLEETWATCH_SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("FLEETWATCH_DEBUG", False)
ALLOWED_HOSTS = env_list("FLEETWATCH_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("FLEETWATCH_CSRF_TRUSTED_ORIGINS", "")
FRONTEND_URL = os.environ.get("FLEETWATCH_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets, served by the hub itself (no CDN)
    "django_tasks_db",
    "fleetwatch.accounts",
    "fleetwatch.incidents",
    "fleetwatch.operations",
    "fleetwatch.connectors",
    "fleetwatch.inventory",
    "fleetwatch.observability",
    "fleetwatch.notifications",
    "fleetwatch.web",
]

# The web console (fleetwatch.web): its own login page; a visitor who is not logged in is sent
# there. Sessions log in with Django's auth; every form carries the CSRF token.
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:incidents"
LOGOUT_REDIRECT_URL = "web:login"
# How often (seconds) an open incident list asks whether anything changed (a 204 when not).
WEB_POLL_SECONDS = float(os.environ.get("FLEETWATCH_WEB_POLL_SECONDS", "1"))

# Single sign-on with OpenID Connect (fleetwatch.web.oidc): off unless FLEETWATCH_OIDC_ISSUER is
# set. The provider's discovery document is fetched at the first login, not here.
OIDC = (
    OIDCConfig(
        issuer=os.environ["FLEETWATCH_OIDC_ISSUER"].strip(),
        client_id=os.environ.get("FLEETWATCH_OIDC_CLIENT_ID", "").strip(),
        client_secret=os.environ.get("FLEETWATCH_OIDC_CLIENT_SECRET", ""),
        provider_name=os.environ.get("FLEETWATCH_OIDC_PROVIDER_NAME", "").strip()
        or "single sign-on",
        scopes=tuple(os.environ.get("FLEETWATCH_OIDC_SCOPES", "openid email profile").split()),
        authorization_endpoint=os.environ.get("FLEETWATCH_OIDC_AUTHORIZATION_ENDPOINT", ""),
        token_endpoint=os.environ.get("FLEETWATCH_OIDC_TOKEN_ENDPOINT", ""),
        jwks_uri=os.environ.get("FLEETWATCH_OIDC_JWKS_URI", ""),
        userinfo_endpoint=os.environ.get("FLEETWATCH_OIDC_USERINFO_ENDPOINT", ""),
        discovery_url=os.environ.get("FLEETWATCH_OIDC_DISCOVERY_URL", ""),
        username_claim=os.environ.get("FLEETWATCH_OIDC_USERNAME_CLAIM", "preferred_username"),
        create_users=env_bool("FLEETWATCH_OIDC_CREATE_USERS", True),
        link_existing_users=env_bool("FLEETWATCH_OIDC_LINK_EXISTING_USERS", False),
        groups_claim=os.environ.get("FLEETWATCH_OIDC_GROUPS_CLAIM", "groups"),
        required_groups=oidc_groups(env_list("FLEETWATCH_OIDC_REQUIRED_GROUPS", "")),
        staff_groups=oidc_groups(env_list("FLEETWATCH_OIDC_STAFF_GROUPS", "")),
        redirect_uri=os.environ.get("FLEETWATCH_OIDC_REDIRECT_URI", ""),
        timeout=float(os.environ.get("FLEETWATCH_OIDC_TIMEOUT", "10")),
    )
    if os.environ.get("FLEETWATCH_OIDC_ISSUER", "").strip()
    else None
)
# false: SSO only -- no password login anywhere (console, admin, the API's token-auth).
PASSWORD_LOGIN = env_bool("FLEETWATCH_PASSWORD_LOGIN", True)
if not PASSWORD_LOGIN and OIDC is None:
    raise ValueError("FLEETWATCH_PASSWORD_LOGIN=false needs FLEETWATCH_OIDC_ISSUER (else no login)")
# The OIDC backend is always there: it authenticates nobody (the login view checks the provider's
# answer), it only keeps sessions made through SSO alive, and ends them if SSO is turned off.
AUTHENTICATION_BACKENDS = [
    *(["django.contrib.auth.backends.ModelBackend"] if PASSWORD_LOGIN else []),
    "fleetwatch.accounts.oidc.OIDCBackend",
]

MIDDLEWARE = [
    "fleetwatch.observability.requestid.RequestIdMiddleware",
    "fleetwatch.observability.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "fleetwatch.urls"
WSGI_APPLICATION = "fleetwatch.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
SQLITE_PATH = DATA_DIR / "fleetwatch.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("FLEETWATCH_CONN_MAX_AGE", 600),
            conn_health_checks=True,
        )
    }
    is_postgresql = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if is_postgresql and env_bool("FLEETWATCH_PG_PREPARED_STATEMENTS", True):
        # Server-side binding lets psycopg prepare a statement once it has run
        # ``prepare_threshold`` times on a connection: PostgreSQL then skips parsing and
        # planning it. Off behind a pooler in transaction mode that cannot carry them.
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=2
        )
else:
    # The file holds the API token keys: created 0600 in a 0700 directory (README, "Tokens").
    _private_file(SQLITE_PATH)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(SQLITE_PATH),
            "OPTIONS": {
                # WAL lets the worker and the web server read while the other writes;
                # IMMEDIATE transactions avoid "database is locked" on lock upgrades.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # A file, not memory, so that tests can start workers as separate processes.
            "TEST": {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Background tasks -------------------------------------------------------------------------
# django-tasks-db, storing the request id of the request that enqueues a task with it.
TASKS = {"default": {"BACKEND": "fleetwatch.observability.tasks.DatabaseBackend"}}

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("FLEETWATCH_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve static files straight from the installed apps (no collectstatic needed to start).
WHITENOISE_USE_FINDERS = True


# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "fleetwatch.accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "fleetwatch.api.renderers.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "fleetwatch.api.renderers.FastJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_METADATA_CLASS": "fleetwatch.api.metadata.FleetwatchMetadata",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_VERSIONING_CLASS": "rest_framework.versioning.NamespaceVersioning",
    "ALLOWED_VERSIONS": ["v1", "v2"],
    "EXCEPTION_HANDLER": "fleetwatch.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fleetwatch API",
    "DESCRIPTION": "Argus-compatible incident API of the Fleetwatch hub.",
    "VERSION": __version__,
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed drf-spectacular-sidecar: it works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["fleetwatch.api.schema.keep_plus_signs"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "fleetwatch.api.schema.document_error_answers",
    ],
    "PATH_CONVERTER_OVERRIDES": {"id": int},  # fleetwatch.api.converters
    "ENUM_NAME_OVERRIDES": {"EventTypeEnum": "fleetwatch.incidents.models.Event.Type"},
}

# Argus-compatible behaviour.
AUTH_TOKEN_EXPIRES_AFTER_DAYS = env_int("FLEETWATCH_TOKEN_EXPIRES_AFTER_DAYS", 14)
LOGIN_TOKEN_TTL_HOURS = env_int("FLEETWATCH_LOGIN_TOKEN_TTL_HOURS", 10)
PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = env_int("FLEETWATCH_PAGE_SIZE_MAX", 1000)
BULK_INGEST_MAX = env_int("FLEETWATCH_BULK_INGEST_MAX", 10000)
# The largest request body (bytes): a JSON 413 beyond it. 10 MiB carries a bulk request of
# 10,000 realistic incidents (3.1 MB) three times over; Django's default (2.5 MB) did not.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("FLEETWATCH_MAX_BODY_BYTES", 10 * 1024 * 1024)
INDELIBLE_INCIDENTS = env_bool("FLEETWATCH_INDELIBLE_INCIDENTS", True)
# The speed tricks that bypass the ORM (src/fleetwatch/fastsql/README.md); false: the ORM path.
FAST_SQL = env_bool("FLEETWATCH_FAST_SQL", True)

# Notification media plug-ins: dotted paths to ``fleetwatch.notifications.media.base.Medium``
# subclasses (comma-separated in the environment).
FLEETWATCH_MEDIA = env_list(
    "FLEETWATCH_MEDIA",
    "fleetwatch.notifications.media.email.EmailMedium,"
    "fleetwatch.notifications.media.sms.SMSMedium,"
    "fleetwatch.notifications.media.webhook.WebhookMedium",
)

# Connectors.
CONNECTOR_LEASE_SECONDS = env_int("FLEETWATCH_CONNECTOR_LEASE_SECONDS", 90)
SCHEDULER_INTERVAL = float(os.environ.get("FLEETWATCH_SCHEDULER_INTERVAL", "2"))
# A connector with no successful poll for this many poll intervals (and at least one lease)
# gets its health incident, whether its polls failed, were skipped or were killed.
CONNECTOR_STALE_INTERVALS = float(os.environ.get("FLEETWATCH_CONNECTOR_STALE_INTERVALS", "5"))
# Loopback and private vendor addresses are refused unless this is on (the emulator demo sets
# it); link-local and cloud metadata addresses are refused whatever it says.
CONNECTOR_ALLOW_PRIVATE = env_bool("FLEETWATCH_CONNECTOR_ALLOW_PRIVATE", False)
# The most seconds `POST <pk>/test/` and `fleetwatch connector test` spend on a vendor.
CONNECTOR_TEST_DEADLINE = float(os.environ.get("FLEETWATCH_CONNECTOR_TEST_DEADLINE", "10"))

# --- Operations: logs, metrics, heartbeats, retention ------------------------------------------
LOG_FORMAT = os.environ.get("FLEETWATCH_LOG_FORMAT", "plain").strip().lower() or "plain"
# One log line per request (method, path, status, duration, request id); gunicorn's own access
# log is plain text, so ``fleetwatch serve`` turns it off when this is on.
ACCESS_LOG = env_bool("FLEETWATCH_ACCESS_LOG", LOG_FORMAT == "json")
LOGGING = logging_config(LOG_FORMAT, os.environ.get("FLEETWATCH_LOG_LEVEL", "INFO"))
# Secrets never reach a log: the redacting filter on every logger that may see a vendor request
# (httpx, httpcore.*, fleetwatch.connectors and each fleetwatch.connectors.<vendor>).
LOGGING = with_redaction(LOGGING)
# authlib (the OIDC login) logs a login's PKCE verifier at DEBUG: keep it at INFO or above.
LOGGING["loggers"].setdefault("authlib", {"level": "INFO"})

# prometheus-client reads PROMETHEUS_MULTIPROC_DIR when it is first imported, which is after
# the settings: every process on a machine that shares FLEETWATCH_DATA_DIR adds its counters
# to the same directory, and /metrics sums them.
METRICS_DIR = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or DATA_DIR / "metrics").resolve()
# Parallel test workers (pytest-xdist) each keep their own directory, so one worker's requests
# never show in another's scrapes (the processes they start inherit it).
if (_worker := os.environ.get("PYTEST_XDIST_WORKER")) and not METRICS_DIR.name.endswith(_worker):
    METRICS_DIR = METRICS_DIR.with_name(f"{METRICS_DIR.name}-{_worker}")
METRICS_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)
METRICS_TOKEN = os.environ.get("FLEETWATCH_METRICS_TOKEN", "")

# Seconds between the worker's checks for sources that missed their heartbeat.
HEARTBEAT_CHECK_INTERVAL = float(os.environ.get("FLEETWATCH_HEARTBEAT_CHECK_INTERVAL", "30"))
# Closed incidents (and stateless ones) older than this many days are deleted, with their
# events, acknowledgements and tags; 0 = keep everything (Argus's behaviour).
RETENTION_DAYS = env_int("FLEETWATCH_RETENTION_DAYS", 0)
RETENTION_BATCH = env_int("FLEETWATCH_RETENTION_BATCH", 500)
RETENTION_INTERVAL = float(os.environ.get("FLEETWATCH_RETENTION_INTERVAL", "3600"))
# Finished background-task rows older than this many days are deleted on the same schedule;
# 0 = keep them. Defaults to FLEETWATCH_RETENTION_DAYS.
TASK_RETENTION_DAYS = env_int("FLEETWATCH_TASK_RETENTION_DAYS", RETENTION_DAYS)

# --- Notification delivery (fleetwatch.notifications.delivery) --------------------------------
from fleetwatch.notifications.emailurl import parse_email_url  # noqa: E402

# EMAIL_URL: smtp://user:pass@host:587?starttls=1, smtps://user:pass@host:465; unset: the log.
MAILERS = {"default": parse_email_url(os.environ.get("EMAIL_URL", ""))}
DEFAULT_FROM_EMAIL = os.environ.get("FLEETWATCH_EMAIL_FROM", "fleetwatch@localhost")
# SMS as e-mail (as Argus): a mail to this address, subject "sms +4799988877", body the text.
SMS_GATEWAY_ADDRESS = os.environ.get("FLEETWATCH_SMS_GATEWAY_ADDRESS", "")
# Retries: attempt n fails -> the next one after BASE * 2**(n-1) seconds, up to MAX_ATTEMPTS.
DELIVERY_RETRY_BASE = float(os.environ.get("FLEETWATCH_DELIVERY_RETRY_BASE", "15"))
DELIVERY_MAX_ATTEMPTS = env_int("FLEETWATCH_DELIVERY_MAX_ATTEMPTS", 8)
# How long a worker's claim on a delivery lasts (a worker that dies mid-send frees it then).
DELIVERY_CLAIM_SECONDS = float(os.environ.get("FLEETWATCH_DELIVERY_CLAIM_SECONDS", "60"))
# Seconds between a worker's looks for due deliveries.
DELIVERY_POLL_INTERVAL = float(os.environ.get("FLEETWATCH_DELIVERY_POLL_INTERVAL", "0.5"))
DELIVERY_BATCH = env_int("FLEETWATCH_DELIVERY_BATCH", 50)
# Consecutive failed attempts after which a destination gets a health incident.
DELIVERY_FAILING_AFTER = env_int("FLEETWATCH_DELIVERY_FAILING_AFTER", 3)
# Webhooks may reach loopback/private addresses only with this (link-local/metadata: never).
WEBHOOK_ALLOW_PRIVATE = env_bool("FLEETWATCH_WEBHOOK_ALLOW_PRIVATE", False)
WEBHOOK_TIMEOUT = float(os.environ.get("FLEETWATCH_WEBHOOK_TIMEOUT", "10"))
# Seconds a process keeps its snapshot of the notification profiles (changes made in the
# same process clear it at once).
NOTIFICATION_PROFILE_CACHE_SECONDS = float(
    os.environ.get("FLEETWATCH_NOTIFICATION_PROFILE_CACHE_SECONDS", "2")
)
