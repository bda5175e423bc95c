cdef class VsStats:
    cdef public long long current_conn, max_conn, total_conn, total_requests, bytes_in, bytes_out, discard
    cdef public long long direct_replies, connection_errors, connection_failures, connect_timed_out
    cdef public long long keepalive_timed_out, data_timed_out, total_dgram, udp_timed_out
