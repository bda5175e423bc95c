cimport cython

cdef class Node:
    cdef public object address, host, state, monitor_failed, active
    cdef public list idle
    cdef public Py_ssize_t port, weight, priority, connect_failures
    cdef public Py_ssize_t current_conn, current_requests, total_conn, new_conn, pooled_conn, errors, failures
    cdef public Py_ssize_t bytes_to_node, bytes_from_node, rt_count
    cdef public double passive_failed_until, failed_since, rt_ewma, rt_min, rt_max, rt_sum

    cpdef bint alive(self, double now)
    cpdef record_response_time(self, double seconds)

cdef class Algorithm:
    cdef public object rng
    cpdef Node choose(self, list nodes)

cdef class RoundRobin(Algorithm):
    cdef public Py_ssize_t next
    cpdef Node choose(self, list nodes)

cdef class WeightedRoundRobin(Algorithm):
    cdef public dict current
    @cython.locals(n=Node, best=Node)
    cpdef Node choose(self, list nodes)

cdef class LeastConnections(Algorithm):
    cpdef Node choose(self, list nodes)

cdef class WeightedLeastConnections(Algorithm):
    cpdef Node choose(self, list nodes)

cdef class FastestResponseTime(Algorithm):
    cpdef Node choose(self, list nodes)

cdef class Perceptive(Algorithm):
    cpdef Node choose(self, list nodes)

cdef class RandomChoice(Algorithm):
    cpdef Node choose(self, list nodes)

cdef class Pool:
    cdef public Algorithm algorithm
    cdef public object cfg, name, nodes, by_address, queue, persistence, failure_pool, bandwidth
    cdef public object ssl_context
    cdef public Py_ssize_t total_conn, bytes_in, bytes_out, queue_timeouts, queued_total, session_migrated
    cdef public double max_queue_time, queue_time_sum
    cdef public bint priority_enabled, keepalive, keepalive_non_idempotent, discard
    cdef public Py_ssize_t max_connections_per_node, max_idle_connections_pernode
    cdef public double max_reply_time

    @cython.locals(n=Node)
    cpdef list candidates(self, double now, exclude=*)
    cpdef tuple select(self, double now, exclude=*)
    cpdef release(self, Node node)
