"""Users of the Admin UI and REST API: the `users` objects, mirrored into Django's logins."""

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from vtmadmin.models import User, UserGroup

ACCESS_ORDER = {"none": 0, "ro": 1, "full": 2}


def user_sync_login(*, name: str, properties: dict) -> None:
    """Keep the Django login of a user in step with its `users` object."""
    login, _ = get_user_model().objects.get_or_create(username=name)
    login.password = properties.get("basic", {}).get("password") or "!"
    login.is_active = True
    login.save()


def user_remove_login(*, name: str) -> None:
    get_user_model().objects.filter(username=name).delete()


def user_sync_all() -> None:
    names = set()
    for user in User.objects.all():
        user_sync_login(name=user.name, properties=user.properties)
        names.add(user.name)
    get_user_model().objects.exclude(username__in=names).delete()


@transaction.atomic
def user_set_password(*, name: str, password: str, group: str = "admin") -> None:
    """Create or change a user's password (configure, the CLI)."""
    from vtmadmin.registry import TYPES
    from vtmadmin.services.config import config_object_put

    config_object_put(
        otype=TYPES["users"], name=name, value={"basic": {"password": password, "group": group}},
        reason=f"set the password of user '{name}'",
    )


def user_access(*, name: str, area: str) -> str:
    """The access level ('none', 'ro', 'full') a user has to one area (a REST type path)."""
    user = User.objects.filter(name=name).first()
    if user is None:
        return "none"
    group = UserGroup.objects.filter(name=user.properties.get("basic", {}).get("group", "admin")).first()
    if group is None:
        return "none"
    best = "none"
    for row in group.properties.get("basic", {}).get("permissions", []):
        if row.get("name") in ("all", area, area.split("/")[0]):
            level = row.get("access_level", "none")
            if ACCESS_ORDER.get(level, 0) > ACCESS_ORDER[best]:
                best = level
    return best


def generate_password() -> str:
    return secrets.token_urlsafe(12)
