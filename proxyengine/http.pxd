cimport cython

from .clock cimport monotonic, wall
from .counters cimport VsStats
from .flow cimport ReadPauses
from .http1 cimport RequestHead, ResponseHead, build_head, head_end, parse_request, parse_response
from .pools cimport Node, Pool
from .settings cimport VsSettings
from .stats cimport Stats
from . cimport rulehooks

cdef dict REASONS, STATUS_LINES
cdef tuple RESPONSE_ENDS
cdef frozenset NO_NODES
cdef frozenset IDEMPOTENT
cdef bytes METHOD_GET  # http1.GET, the one object every GET request line gives
cdef bytes REASON_OK  # http1's one b"OK" (a status line's reason)


cdef class HttpNodeProtocol

cdef class Exchange:
    cdef public object method, url, version, head, _headers, upgrade_tail, vs, connect_task
    cdef public HttpNodeProtocol conn
    cdef public Pool pool
    cdef public Node node
    cdef public VsSettings settings
    cdef public object persist, persist_key, tx, reply_timer, node_address, resp_headers, client, body_buf
    cdef public object sent, tried, response_rules
    cdef public bint headers_changed, keep_alive, upgrade, chunked, expect_continue, complete, held
    cdef public bint waiter_active, persist_new, close_after, dead, response_started, response_done
    cdef public bint resp_chunked_out, resp_chunked_in, resp_until_close, head_only, http10
    cdef public Py_ssize_t content_length, body_buf_size, sent_size, attempts, failovers, last_error, status
    cdef public Py_ssize_t req_bytes, resp_bytes, resp_head_bytes
    cdef public double started, sent_at

cdef class HttpClientProtocol(ReadPauses):
    cdef public object engine, loop, listener, vs, limits, client_ip, _local_ip, client_ip_bytes
    cdef public list wbuf, nbuf
    cdef public list exchanges
    cdef public object forwarded_proto, tunnel, idle_timer, idle_deadline, reply_handle
    cdef public object reply_ex, throttle, connection_data, buf, cur, chunks, to_start, body_timer, rule_side
    cdef public VsStats counters  # the virtual server's (vs.stats)
    cdef public VsSettings settings  # the virtual server's (vs.settings)
    cdef public Stats stats  # the engine's (engine.stats)
    cdef public bint tls, timer_for_head, writing_paused, client_eof
    cdef public Py_ssize_t client_port, local_port, body_left
    cdef public double reply_when, reply_deadline, body_deadline

    @cython.locals(ex=Exchange, last=Exchange, pos=Py_ssize_t, n=Py_ssize_t, end=Py_ssize_t, take=Py_ssize_t)
    cpdef _consume(self, bytes data)
    cpdef _new_exchange(self, RequestHead r)
    cpdef _message_complete(self, Exchange ex)
    cpdef _flush(self)
    cpdef _set_idle_timer(self, seconds, bint head=*)
    cpdef _cancel_idle_timer(self)
    cpdef _request_bytes(self, Exchange ex, data)
    @cython.locals(settings=VsSettings)
    cpdef _start(self, Exchange ex)
    @cython.locals(pool=Pool)
    cpdef _dispatch(self, Exchange ex)
    @cython.locals(conn=HttpNodeProtocol)
    cpdef _connect_node(self, Exchange ex, Node node, Pool pool)
    cpdef _attach(self, Exchange ex, HttpNodeProtocol conn, bint reused)
    cpdef _request_sent(self, Exchange ex)
    @cython.locals(r=RequestHead, start=Py_ssize_t, end=Py_ssize_t, cuts=list, after=tuple)
    cpdef bytes _request_head(self, Exchange ex)
    cpdef tuple _end_request_head(self, Exchange ex, xff, upgrade)
    cpdef bint _node_keepalive(self, Exchange ex)
    cpdef _drop_node(self, Exchange ex, bint reusable)
    cpdef bint _client_keepalive(self, Exchange ex)
    @cython.locals(start=Py_ssize_t, stop=Py_ssize_t, r=ResponseHead, end=bytes, cuts=list, connection=int)
    cpdef response_head(self, Exchange ex, HttpNodeProtocol conn)
    cpdef response_body(self, Exchange ex, data)
    cpdef response_complete(self, Exchange ex, bint node_keepalive)
    cpdef _exchange_done(self, Exchange ex)

cdef class HttpNodeProtocol(ReadPauses):
    cdef public object engine, loop, idle_timer, tunnel, client, buf, reason, _headers, chunks
    cdef public Node node
    cdef public Exchange exchange
    cdef public ResponseHead resp
    cdef public bint reused_for_request
    cdef public Py_ssize_t status, body_left
    cdef public double idle_since

    @cython.locals(hc=HttpClientProtocol, pos=Py_ssize_t, n=Py_ssize_t, end=Py_ssize_t, take=Py_ssize_t)
    cpdef _consume(self, bytes data)
    @cython.locals(hc=HttpClientProtocol)
    cpdef _complete(self, client, Exchange ex, bint keepalive)
    @cython.locals(hc=HttpClientProtocol)
    cpdef _body_to(self, client, Exchange ex, piece)
    @cython.locals(hc=HttpClientProtocol)
    cpdef _flush_client(self, client)
    cpdef reused(self)
    cpdef to_idle(self, Py_ssize_t max_idle)
    cpdef close(self)
