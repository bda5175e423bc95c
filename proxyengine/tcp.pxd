cimport cython

from .counters cimport VsStats
from .flow cimport ReadPauses
from .pools cimport Node

cdef class _Side(ReadPauses):
    cdef public _Side peer
    cdef public bint eof

cdef class TcpClientProtocol(_Side):
    cdef public object engine, loop, listener, vs, response_rules, pool, tried, started, client_ip, local_ip
    cdef public object throttle, idle_timer, connect_task, tx, connection_data, persist, persist_key, persist_node
    cdef public object hello_persistence, _node_addr
    cdef public list pending
    cdef public Node node
    cdef public VsStats counters  # the virtual server's (vs.stats)
    cdef public bint connecting, rules_pending, persist_set
    cdef public Py_ssize_t attempts, bytes_in, bytes_out, client_port, local_port

    @cython.locals(n=Py_ssize_t, peer=_Side)
    cpdef data_received(self, data)

cdef class TcpNodeProtocol(_Side):
    cdef public TcpClientProtocol client
    cdef public Node node

    @cython.locals(n=Py_ssize_t, client=TcpClientProtocol, node=Node)
    cpdef data_received(self, data)
