cimport cython
from posix.time cimport CLOCK_MONOTONIC, CLOCK_REALTIME, clock_gettime, timespec

cdef bint COMPILED

@cython.locals(ts=timespec)
cpdef double monotonic() except? -1.0
@cython.locals(ts=timespec)
cpdef double wall() except? -1.0
