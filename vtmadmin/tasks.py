"""Celery tasks of the admin side: thin entry points over services."""

from celery import shared_task


@shared_task
def push_revision(revision_id: int) -> str:
    from vtmadmin.services.engine import engine_push

    return engine_push(revision_id=revision_id).status
