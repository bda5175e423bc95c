"""What every traffic manager has from the start: global settings, its own entry,
the built-in pool and monitors, and the admin group."""

from django.conf import settings
from django.db import transaction

from vtmadmin.registry import GLOBAL_SETTINGS_NAME, TYPES

FACTORY = {"basic": {"factory": True}}

BUILTIN_MONITORS = {
    "Ping": {"basic": {"type": "ping", "note": "Checks that the node answers ICMP echo requests"}},
    "Connect": {"basic": {"type": "connect", "note": "Checks that a TCP connection to the node can be made"}},
    "Simple HTTP": {"basic": {"type": "http", "note": "Requests / and checks for a 2xx, 3xx or 4xx status"}},
    "Full HTTP": {
        "basic": {"type": "http", "note": "Requests / and checks the status and that a body is returned"},
        "http": {"body_regex": ".+"},
    },
    "Simple HTTPS": {
        "basic": {"type": "http", "use_ssl": True, "note": "Simple HTTP over SSL"},
    },
    "Full HTTPS": {
        "basic": {"type": "http", "use_ssl": True, "note": "Full HTTP over SSL"},
        "http": {"body_regex": ".+"},
    },
    "Client First": {
        "basic": {"type": "tcp_transaction", "note": "Writes a line and expects a reply"},
        "tcp": {"write_string": "\r\n", "response_regex": ".+"},
    },
    "Server First": {
        "basic": {"type": "tcp_transaction", "note": "Expects the node to speak first"},
        "tcp": {"response_regex": ".+"},
    },
}

BUILTIN = {
    "pools": {"discard": {"basic": {"note": "Discards all traffic sent to it"}}},
    "monitors": {name: {"basic": {**props["basic"], "factory": True}, **{k: v for k, v in props.items() if k != "basic"}}
                 for name, props in BUILTIN_MONITORS.items()},
    "user_groups": {
        "admin": {
            "basic": {
                "description": "Full access to every part of the traffic manager",
                "permissions": [{"name": "all", "access_level": "full"}],
            }
        },
        "Guest": {
            "basic": {
                "description": "Read-only access",
                "permissions": [{"name": "all", "access_level": "ro"}],
            }
        },
    },
}


@transaction.atomic
def config_bootstrap(*, record: bool = True) -> None:
    """Create whatever built-in object is missing; never changes one that exists."""
    from vtmadmin.services.revisions import revision_record

    created = False
    for path, objects in BUILTIN.items():
        model = TYPES[path].model
        for name, properties in objects.items():
            _, made = model.objects.get_or_create(name=name, defaults={"properties": properties})
            created |= made
    _, made = TYPES["global_settings"].model.objects.get_or_create(name=GLOBAL_SETTINGS_NAME)
    created |= made
    _, made = TYPES["traffic_managers"].model.objects.get_or_create(name=settings.TM_NAME)
    created |= made
    if record and created:
        revision_record(reason="built-in configuration")
