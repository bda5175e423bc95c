"""URL routes of the admin server: the REST API under /api, the Admin UI elsewhere."""

from django.urls import include, path

urlpatterns = [
    path("", include("vtmadmin.api.urls")),
]

handler404 = "vtmadmin.api.errors.json_404"
handler500 = "vtmadmin.api.errors.json_500"
