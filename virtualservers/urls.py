"""Admin UI routes of virtual servers, rules and SSL server certificates."""

from virtualservers.views import RULES, SSL_SERVER_KEYS, VIRTUAL_SERVERS
from vtmadmin.generic import object_urls

urlpatterns = [*object_urls(VIRTUAL_SERVERS), *object_urls(RULES), *object_urls(SSL_SERVER_KEYS)]
