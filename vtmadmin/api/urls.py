"""REST API routes. Every path works with or without a trailing slash."""

from django.urls import re_path

from vtmadmin.api import status, views

V = r"(?P<version>8\.3)"

urlpatterns = [
    re_path(r"^api/?$", views.ApiRoot.as_view()),
    re_path(r"^api/tm/?$", views.Versions.as_view()),
    re_path(rf"^api/tm/{V}/?$", views.VersionRoot.as_view()),
    re_path(rf"^api/tm/{V}/config/?$", views.ConfigRoot.as_view()),
    re_path(rf"^api/tm/{V}/config/document/?$", views.ConfigDocument.as_view()),
    re_path(rf"^api/tm/{V}/config/active/?$", views.ActiveTypes.as_view()),
    re_path(rf"^api/tm/{V}/config/active/(?P<rest>.+)$", views.ConfigObjects.as_view()),
    re_path(rf"^api/tm/{V}/status/?$", status.StatusRoot.as_view()),
    re_path(rf"^api/tm/{V}/status/local_tm/?$", status.LocalTM.as_view()),
    re_path(rf"^api/tm/{V}/status/local_tm/information/?$", status.Information.as_view()),
    re_path(rf"^api/tm/{V}/status/local_tm/state/?$", status.State.as_view()),
    re_path(rf"^api/tm/{V}/status/local_tm/license/?$", status.LicenseInForce.as_view()),
    re_path(rf"^api/tm/{V}/status/local_tm/diagnose/?$", status.Diagnose.as_view()),
    re_path(rf"^api/tm/{V}/status/local_tm/backups/?$", status.BackupsRoot.as_view()),
    re_path(rf"^api/tm/{V}/status/local_tm/backups/full/?$", status.Backups.as_view()),
    re_path(rf"^api/tm/{V}/status/local_tm/backups/full/(?P<name>[^/]+)/?$", status.Backups.as_view()),
    re_path(rf"^api/tm/{V}/status/local_tm/statistics(?P<rest>/.*)?$", status.Statistics.as_view()),
    re_path(r"^api/schema/?$", views.OpenAPISchema.as_view(), name="openapi-schema"),
]
