cimport cython

from .clock cimport monotonic
from .http cimport Exchange, HttpClientProtocol
from .settings cimport VsSettings

cdef class Stats:
    cdef public object engine, recent, per_second, _last
    cdef public long long total_requests, total_conn, next_id

    @cython.locals(vs=VsSettings)
    cpdef request_done(self, HttpClientProtocol client, Exchange ex)
