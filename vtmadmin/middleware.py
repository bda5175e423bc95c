"""Request normalisation shared by the Admin UI and the REST API."""

import re

_SLASHES = re.compile(r"/{2,}")


class CollapseSlashesMiddleware:
    """`/api//tm///8.3` is `/api/tm/8.3`: vTM tooling that joins paths carelessly still works."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "//" in request.path_info:
            request.path_info = _SLASHES.sub("/", request.path_info)
            request.path = _SLASHES.sub("/", request.path)
        return self.get_response(request)
