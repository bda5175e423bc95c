"""HTTP Basic authentication for the REST API, against the traffic manager's users."""

from django.contrib.auth import authenticate
from rest_framework import authentication, exceptions


class VTMBasicAuthentication(authentication.BasicAuthentication):
    www_authenticate_realm = "vTM REST API"

    def authenticate_credentials(self, userid, password, request=None):
        user = authenticate(request=request, username=userid, password=password)
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed("User name or password was invalid")
        return (user, None)
