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


class PortRoleMiddleware:
    """The REST API answers on its port (9070), the Admin UI on its own (9090), as on vTM.

    gunicorn listens on both; SERVER_PORT names the listener a request came in on. Requests
    on any other port (the test client, a proxy in front) reach everything."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings
        from django.http import JsonResponse

        port = request.META.get("SERVER_PORT")
        is_api = request.path_info.startswith("/api")
        if port == str(settings.ADMIN_PORT) and is_api:
            return JsonResponse({"error_id": "resource.not_found",
                                 "error_text": f"The REST API is served on port {settings.REST_PORT}"}, status=404)
        if port == str(settings.REST_PORT) and not is_api:
            return JsonResponse({"error_id": "resource.not_found",
                                 "error_text": f"The Admin UI is served on port {settings.ADMIN_PORT}"}, status=404)
        return self.get_response(request)
