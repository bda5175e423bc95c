cimport cython

from .clock cimport monotonic
from .http cimport Exchange, HttpClientProtocol
from .settings cimport VsSettings

cdef Py_ssize_t RECENT_LIMIT

cdef class Stats:
    cdef public list recent
    cdef public object engine, per_second, _last
    cdef public long long total_requests, total_conn, next_id

    @cython.locals(vs=VsSettings)
    cpdef request_done(self, HttpClientProtocol client, Exchange ex)
