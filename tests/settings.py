"""Settings for the test suite: a throw-away $ZEUSHOME (never /usr/local/zeus) and eager Celery tasks."""

import os
import tempfile

os.environ["ZEUSHOME"] = tempfile.mkdtemp(prefix="zeushome-test-")
os.environ.setdefault("VTM_CELERY_EAGER", "1")
os.environ.setdefault("VTM_NAME", "tm1.test")

from vtmadmin.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast hashing for tests only
