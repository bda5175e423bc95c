"""Admin UI routes: home, login, wizards, the configuration pages of each app, Activity and System."""

from django.urls import include, path, re_path

from vtmadmin import views

urlpatterns = [
    re_path(r"^static/(?P<path>.+)$", views.static_file, name="static_file"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("", views.home, name="home"),
    path("wizards/new-service/", views.wizard_basics, name="wizard_basics"),
    path("wizards/new-service/nodes/", views.wizard_nodes, name="wizard_nodes"),
    path("wizards/new-service/summary/", views.wizard_summary, name="wizard_summary"),
    path("", include("virtualservers.urls")),
    path("", include("pools.urls")),
    path("", include("clusters.urls")),
    path("activity/", views.activity_connections, name="activity_connections"),
    path("activity/connections/rows/", views.activity_connections_rows, name="activity_connections_rows"),
    path("activity/current/", views.activity_current, name="activity_current"),
    path("activity/current/data/", views.activity_current_data, name="activity_current_data"),
    path("diagnose/", views.diagnose, name="diagnose"),
    path("system/", views.system_traffic_managers, name="system_traffic_managers"),
    path("system/security/", views.system_security, name="system_security"),
    path("system/licenses/", views.system_licenses, name="system_licenses"),
    path("system/licenses/<str:name>/delete/", views.system_license_delete, name="system_license_delete"),
    path("system/backups/", views.system_backups, name="system_backups"),
    path("system/backups/<str:name>/download/", views.system_backup_download, name="system_backup_download"),
    path("system/backups/<str:name>/restore/", views.system_backup_restore, name="system_backup_restore"),
    path("system/backups/<str:name>/delete/", views.system_backup_delete, name="system_backup_delete"),
    path("system/audit-log/", views.system_audit_log, name="system_audit_log"),
]
