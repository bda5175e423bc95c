"""Every test runs against a throw-away $ZEUSHOME, never /usr/local/zeus."""

import os
import tempfile

_home = tempfile.mkdtemp(prefix="zeushome-test-")
os.environ.setdefault("ZEUSHOME", _home)
os.environ.setdefault("VTM_CELERY_EAGER", "1")
