"""Revisions of the configuration: each change is a numbered document, pushed to the engine."""

from django.db import transaction

from vtmadmin.models import ConfigRevision
from vtmadmin.services.document import config_digest, current_config, render_document

KEEP_REVISIONS = 200


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
    from vtmadmin.tasks import push_revision

    push_revision.delay(revision_id)
