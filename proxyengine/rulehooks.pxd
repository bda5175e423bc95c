# compiled as it is (proxyengine/compile.py): no C types declared. The functions a request's rules run goes
# through are cpdef, so they call one another in C rather than as Python functions.
cpdef _latin(b)
cpdef new_transaction(client, ex)
cpdef run_request_rules(client, ex)
cpdef bint _ended_by_rules(client, ex, tx, state, vs) except -1
cpdef bint _apply_routing(engine, tx, target) except -1
cpdef _run_request(client, ex)
