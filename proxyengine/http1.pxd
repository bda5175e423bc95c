cimport cython

cdef class RequestHead:
    cdef public bytes method, target, block, host, upgrade
    cdef public str version
    cdef public list fields
    cdef public Py_ssize_t content_length
    cdef public bint chunked, keep_alive, expect_continue
    cdef public frozenset tokens

cdef class ResponseHead:
    cdef public int status
    cdef public bytes reason, block
    cdef public str version
    cdef public list fields
    cdef public Py_ssize_t content_length
    cdef public bint chunked, until_close, keep_alive, upgrade
    cdef public frozenset tokens

cdef bint COMPILED
cdef bytes TOKEN_BYTES, VALUE_BYTES
cdef Py_ssize_t LONGEST_FIELD

@cython.locals(n=Py_ssize_t, i=Py_ssize_t, start=Py_ssize_t, colon=Py_ssize_t)
cpdef list scan_fields(bytes block, frozenset names, int status)
cpdef RequestHead parse_request(bytes head, object limits=*)
cpdef ResponseHead parse_response(bytes head, bytes request_method)
