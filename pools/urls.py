"""Admin UI routes of pools, monitors, session persistence and bandwidth classes."""

from pools.views import BANDWIDTH, MONITORS, PERSISTENCE, POOLS
from vtmadmin.generic import object_urls

urlpatterns = [*object_urls(POOLS), *object_urls(MONITORS), *object_urls(PERSISTENCE), *object_urls(BANDWIDTH)]
