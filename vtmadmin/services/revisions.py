"""Revisions of the configuration: each change is a numbered document, pushed to the engine."""

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction

from vtmadmin.models import ConfigRevision
from vtmadmin.services.document import config_digest, current_config, render_document

KEEP_REVISIONS = 200
logger = logging.getLogger(__name__)


def revision_latest() -> ConfigRevision | None:
    return ConfigRevision.objects.order_by("-number").first()


def revision_record(*, reason: str = "", at_least: int = 0) -> ConfigRevision:
    """Record the current configuration as a new revision (unless unchanged) and push it."""
    config = current_config()
    digest = config_digest(config)
    latest = revision_latest()
    if latest and latest.digest == digest:
        return latest
    number = max((latest.number if latest else 0) + 1, at_least)
    revision = ConfigRevision.objects.create(
        number=number, digest=digest, document=render_document(config=config, revision=number), reason=reason[:255]
    )
    stale = ConfigRevision.objects.order_by("-number").values_list("id", flat=True)[KEEP_REVISIONS:]
    ConfigRevision.objects.filter(id__in=list(stale)).delete()
    transaction.on_commit(lambda: _enqueue_push(revision.id))
    return revision


def _enqueue_push(revision_id: int) -> None:
    """Hand the push to the Celery worker; without a broker (first start, a stopped node) push now."""
    from vtmadmin.services.engine import engine_push
    from vtmadmin.tasks import push_revision

    try:
        if not _broker_reachable():
            raise ConnectionError("the broker's socket does not exist")
        push_revision.apply_async((revision_id,), retry=False)
    except Exception:  # kombu raises several kinds of connection error; all mean "no broker"
        logger.warning("no Celery broker; pushing revision %s to the engine directly", revision_id)
        engine_push(revision_id=revision_id)


def _broker_reachable() -> bool:
    url = settings.CELERY_BROKER_URL
    if url.startswith("redis+socket://"):
        return Path(url[len("redis+socket://"):].split("?")[0]).exists()
    return True
