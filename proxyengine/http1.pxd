cimport cython


cdef extern from "string.h":
    const void *memchr(const void *s, int c, size_t n)
    void *memcpy(void *dest, const void *src, size_t n)

cdef extern from "Python.h":
    bytes PyBytes_FromStringAndSize(const char *v, Py_ssize_t n)
    char *PyBytes_AS_STRING(object o)

cdef class RequestHead:
    cdef public bytes method, target, block, host, upgrade
    cdef public str version
    cdef public list fields
    cdef public Py_ssize_t content_length
    cdef public bint chunked, keep_alive, expect_continue, http10
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
cdef bytes GET
cdef bytes TOKEN_BYTES, TARGET_BYTES, VALUE_BYTES, LOWER_BYTES
cdef unsigned long long ONES, SPACES, DELS, TOPS
cdef dict NAME_SHAPES, NAME_LISTS
cdef Py_ssize_t LONGEST_FIELD
cdef dict _TOKENS
cdef dict _GOOD_HOSTS

@cython.locals(n=Py_ssize_t, i=Py_ssize_t, start=Py_ssize_t, colon=Py_ssize_t, v=Py_ssize_t, e=Py_ssize_t,
               p='const unsigned char*', token='const unsigned char*', value='const unsigned char*',
               shapes='const unsigned char*', lower='const unsigned char*', q='const unsigned char*', k=Py_ssize_t,
               name=bytes, w='unsigned long long', x='unsigned long long', slot=int, candidates=tuple)
cpdef list scan_fields(bytes block, frozenset names, int status)
@cython.locals(n=Py_ssize_t, i=Py_ssize_t, method_end=Py_ssize_t, target_end=Py_ssize_t, major=int, dot=int,
               minor=int, p='const unsigned char*', token='const unsigned char*',
               target='const unsigned char*')
cpdef tuple request_line(bytes line)
@cython.locals(i=Py_ssize_t, minor=int, d1=int, d2=int, d3=int, p='const unsigned char*',
               value='const unsigned char*')
cpdef int status_line(bytes head, Py_ssize_t eol)
@cython.locals(eol=Py_ssize_t, n=Py_ssize_t, p='const unsigned char*')
cpdef RequestHead parse_request(bytes head, object limits=*)
@cython.locals(eol=Py_ssize_t, n=Py_ssize_t, p='const unsigned char*')
cpdef ResponseHead parse_response(bytes head, bytes request_method)
cpdef Py_ssize_t head_end(bytes buf) except -2
cpdef Py_ssize_t line_end(bytes buf) except -2
@cython.locals(n=Py_ssize_t, i=Py_ssize_t, need=Py_ssize_t, p='const unsigned char*', q='const unsigned char*')
cdef Py_ssize_t _crlf(bytes buf, bint blank) except -2
@cython.locals(n=Py_ssize_t, i=Py_ssize_t, d=int, value='long long', p='const unsigned char*')
cpdef long long decimal(bytes v) except -2
cpdef frozenset connection_tokens(bytes value)
@cython.locals(p='const unsigned char*', q='const unsigned char*')
cpdef Py_ssize_t find_byte(bytes buf, int byte) except -2
@cython.locals(end=Py_ssize_t, total=Py_ssize_t, pos=Py_ssize_t, last=Py_ssize_t, start=Py_ssize_t, stop=Py_ssize_t,
               piece=bytes, out=bytes, w='char*', q='const unsigned char*', p='const unsigned char*')
cpdef bytes build_head(tuple before, bytes block, list cuts, tuple after)
