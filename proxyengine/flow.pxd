cdef class ReadPauses:
    cdef public object transport
    cdef public int paused
    cdef public bint closed
    cpdef pause(self, int reason)
    cpdef resume(self, int reason)
