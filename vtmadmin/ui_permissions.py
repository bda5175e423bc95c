"""Who may change what in the Admin UI: the `user_groups` permissions (full, ro, none) per area."""

from django.core.exceptions import PermissionDenied

from vtmadmin.services.users import user_access


def can_view(user, area: str) -> bool:
    return user_access(name=user.username, area=area) in ("ro", "full")


def can_change(user, area: str) -> bool:
    return user_access(name=user.username, area=area) == "full"


def require_change(request, area: str) -> None:
    """Refuse a change (403) to a user whose group may only look."""
    if not can_change(request.user, area):
        raise PermissionDenied(f"Your user group may not change {area}")


def require_view(request, area: str) -> None:
    if not can_view(request.user, area):
        raise PermissionDenied(f"Your user group may not see {area}")
