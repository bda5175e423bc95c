"""Settings of one traffic manager, read from $ZEUSHOME and the environment.

Everything a node writes lives under its $ZEUSHOME, so several nodes can run
side by side on one machine (tests do): the database, the broker's socket,
the engine's configuration, keys and logs.
"""

import json
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
ZEUSHOME = Path(os.environ.get("ZEUSHOME", "/usr/local/zeus")).resolve()


def _node_settings() -> dict:
    """Per-node overrides stored in $ZEUSHOME/admin/etc/settings.json."""
    try:
        return json.loads((ZEUSHOME / "admin" / "etc" / "settings.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


_NODE = _node_settings()


def _setting(name: str, default):
    value = os.environ.get(name, _NODE.get(name, default))
    if isinstance(default, bool) and isinstance(value, str):
        return value.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int) and not isinstance(default, bool):
        return int(value)
    return value


def _secret_key() -> str:
    path = ZEUSHOME / "admin" / "etc" / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key
    except FileExistsError:
        return path.read_text().strip()
    except OSError:
        return "insecure-" + secrets.token_urlsafe(30)


SECRET_KEY = os.environ.get("VTM_SECRET_KEY") or _secret_key()
DEBUG = _setting("VTM_DEBUG", False)
ALLOWED_HOSTS = ["*"]

TM_NAME = _setting("VTM_NAME", os.uname().nodename)
ADMIN_PORT = _setting("VTM_ADMIN_PORT", 9090)
REST_PORT = _setting("VTM_REST_PORT", 9070)
BIND_ADDRESS = _setting("VTM_BIND_ADDRESS", "0.0.0.0")
RUN_USER = _setting("VTM_RUN_USER", "")
RUN_GROUP = _setting("VTM_RUN_GROUP", "")
RUN_DIR = ZEUSHOME / "run"
LOG_DIR = ZEUSHOME / "log"
ENGINE_CONFIG = ZEUSHOME / "zxtm" / "conf" / "engine.json"
ENGINE_CONTROL_SOCKET = RUN_DIR / "engine.sock"
BACKUP_DIR = ZEUSHOME / "zxtm" / "conf" / "backups"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.forms",
    "rest_framework",
    "vtmadmin",
    "pools",
    "virtualservers",
    "clusters",
    "upgrades",
]

MIDDLEWARE = [
    "vtmadmin.middleware.CollapseSlashesMiddleware",
    "vtmadmin.middleware.PortRoleMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "vtmadmin.ui_middleware.AdminUILoginMiddleware",
]

ROOT_URLCONF = "vtmadmin.urls"
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
                "vtmadmin.ui_context.admin_ui",
            ],
        },
    },
]
FORM_RENDERER = "vtmadmin.ui_forms.AdminUIFormRenderer"
WSGI_APPLICATION = "vtmadmin.wsgi.application"

try:
    (ZEUSHOME / "admin" / "var").mkdir(parents=True, exist_ok=True)
except OSError:
    pass  # a read-only $ZEUSHOME is reported by the first command that needs the database

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("VTM_DATABASE", str(ZEUSHOME / "admin" / "var" / "config.sqlite3")),
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = ZEUSHOME / "admin" / "static"

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_PROXY_SSL_HEADER = None

# The Admin UI: login pages, idle timeout (the user group's `timeout` minutes), browser hardening.
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
SESSION_COOKIE_AGE = 12 * 3600
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = 31536000
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
UI_LOGIN_MAX_FAILURES = _setting("VTM_UI_LOGIN_MAX_FAILURES", 5)
UI_LOGIN_LOCKOUT_SECONDS = _setting("VTM_UI_LOGIN_LOCKOUT_SECONDS", 300)
# Failed-login counts must be shared by gunicorn's workers: a file cache under $ZEUSHOME.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(ZEUSHOME / "admin" / "var" / "cache"),
    }
}

# The REST API answers large configuration documents, but not without bound.
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024
REST_MAX_BODY_BYTES = _setting("VTM_REST_MAX_BODY_BYTES", 4 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["vtmadmin.api.auth.VTMBasicAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "vtmadmin.api.errors.exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "vtmadmin.api.negotiation.LenientContentNegotiation",
    "UNAUTHENTICATED_USER": None,
}

CELERY_BROKER_URL = os.environ.get("VTM_BROKER_URL", f"redis+socket://{RUN_DIR / 'redis.sock'}")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = _setting("VTM_CELERY_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
