"""Template context every Admin UI page gets: the node's name and version, and what the user may change."""

from django.conf import settings

from vtmadmin.version import VERSION


def admin_ui(request) -> dict:
    from vtmadmin.ui_permissions import can_change

    user = getattr(request, "user", None)
    return {
        "tm_name": settings.TM_NAME,
        "tm_version": VERSION,
        "user_can_change": bool(user and user.is_authenticated and can_change(user, "all")),
    }
