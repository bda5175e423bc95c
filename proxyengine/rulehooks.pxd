# The functions a request's rules run goes through are cpdef, so they call one another in C rather than as Python
# functions, and read the client protocol and the exchange as C structs; the rest is compiled untyped.
cimport cython

cdef dict _METHODS

from .http cimport Exchange, HttpClientProtocol
from .http1 cimport RequestHead, find_byte
from .settings cimport VsSettings

cdef class ClientSide:
    cdef public object vs, transport, remote_ip, connection_data, state
    cdef public dict pools
    cdef public str vs_name
    cdef public Py_ssize_t remote_port, local_port

cpdef str _latin(bytes b)
@cython.locals(side=ClientSide, q=Py_ssize_t)
cpdef new_transaction(HttpClientProtocol client, Exchange ex)
cdef class RouteHit:
    cdef public object pool, chooser
    cdef public tuple ran
    cdef public long long hits

@cython.locals(settings=VsSettings, known=RouteHit)
cpdef run_request_rules(HttpClientProtocol client, Exchange ex)
@cython.locals(entry=RouteHit, hits=cython.longlong)
cpdef fold_route_hits(VsSettings settings)
cpdef bint _ended_by_rules(client, ex, tx, state, vs) except -1
cpdef bint _apply_routing(engine, tx, target) except -1
cpdef _use_pool(engine, tx, target)
@cython.locals(pools=dict, side=ClientSide)
cpdef _run_request(HttpClientProtocol client, Exchange ex, tuple key=*)
@cython.locals(url=bytes, q=Py_ssize_t, head=RequestHead)
cpdef tuple _route_key(Exchange ex, int inputs)
cdef int HOST, PATH, QUERY, METHOD, PURE
