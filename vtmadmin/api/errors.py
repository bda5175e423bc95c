"""Every REST API error is JSON with an `error_id`, as vTM clients expect; never an HTML page."""

from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

AUTH_HEADER = 'Basic realm="vTM REST API"'


def error_body(error_id: str, text: str, info: dict | None = None) -> dict:
    body = {"error_id": error_id, "error_text": text}
    if info is not None:
        body["error_info"] = info
    return body


class APIError(exceptions.APIException):
    """An error with a vTM error_id and an optional error_info tree."""

    def __init__(self, status_code: int, error_id: str, text: str, info: dict | None = None):
        super().__init__(text)
        self.status_code = status_code
        self.error_id = error_id
        self.info = info


def exception_handler(exc, context):
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        response = Response(error_body("auth.invalid", "User name or password was invalid"), status=401)
        response["WWW-Authenticate"] = AUTH_HEADER
        return response
    if isinstance(exc, APIError):
        return Response(error_body(exc.error_id, str(exc.detail), exc.info), status=exc.status_code)
    if isinstance(exc, exceptions.PermissionDenied):
        return Response(error_body("auth.no_access", "You do not have permission to do that"), status=403)
    if isinstance(exc, exceptions.NotFound):
        return Response(error_body("resource.not_found", "The requested resource does not exist"), status=404)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response(
            error_body("request.method_not_allowed", f"Method {context['request'].method} is not allowed here"),
            status=status.HTTP_405_METHOD_NOT_ALLOWED,
        )
    if isinstance(exc, exceptions.APIException):
        return Response(error_body("request.invalid", str(exc.detail)), status=exc.status_code)
    return None


def json_404(request, exception=None):
    return JsonResponse(error_body("resource.not_found", f"No such resource: {request.path}"), status=404)


def json_500(request):
    return JsonResponse(error_body("internal.error", "An internal error occurred; see the admin server's log"),
                        status=500)
