"""URL routes of the admin server: the REST API under /api first, the Admin UI elsewhere."""

from django.urls import include, path

urlpatterns = [
    path("", include("vtmadmin.api.urls")),
    path("", include("vtmadmin.ui_urls")),
]

# JSON for /api paths (vTM clients expect it), HTML pages for the Admin UI.
handler403 = "vtmadmin.views.handler403"
handler404 = "vtmadmin.views.handler404"
handler500 = "vtmadmin.views.handler500"
