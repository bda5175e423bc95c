from .counters cimport VsStats
from .pools cimport Pool

cdef class VsSettings:
    cdef public str name
    cdef public bint keepalive, add_x_forwarded_for, add_x_forwarded_proto, add_cluster_ip, strip_x_forwarded_proto
    cdef public Py_ssize_t keepalive_timeout, timeout, connect_timeout, max_client_buffer, max_server_buffer
    cdef public Py_ssize_t max_body_length
    cdef public bint recent_connections, request_rules_read_body, log_response_headers, retired
    cdef public Pool pool
    cdef public list request_rules, response_rules
    cdef public int route_inputs
    cdef public dict route_memo
    cdef public Py_ssize_t route_memo_fills
    cdef public object access_log
    cdef public VsStats stats
