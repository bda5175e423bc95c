"""Admin UI routes of the cluster's objects."""

from clusters.views import TRAFFIC_IP_GROUPS
from vtmadmin.generic import object_urls

urlpatterns = [*object_urls(TRAFFIC_IP_GROUPS)]
