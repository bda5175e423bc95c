cimport cython
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

cdef bint COMPILED

@cython.locals(ts=timespec)
cpdef double monotonic() except? -1.0
