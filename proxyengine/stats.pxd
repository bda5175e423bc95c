from .http cimport Exchange, HttpClientProtocol

cdef class Stats:
    cdef public object engine, recent, per_second, _last
    cdef public long long total_requests, total_conn, next_id

    cpdef request_done(self, HttpClientProtocol client, Exchange ex)
