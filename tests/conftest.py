"""Shared test helpers. The Django settings for tests are tests/settings.py (a throw-away $ZEUSHOME)."""
