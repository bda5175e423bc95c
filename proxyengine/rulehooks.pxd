# The functions a request's rules run goes through are cpdef, so they call one another in C rather than as Python
# functions, and read the client protocol and the exchange as C structs; the rest is compiled untyped.
from .http cimport Exchange, HttpClientProtocol

cpdef str _latin(bytes b)
cpdef new_transaction(HttpClientProtocol client, Exchange ex)
cpdef run_request_rules(HttpClientProtocol client, Exchange ex)
cpdef bint _ended_by_rules(client, ex, tx, state, vs) except -1
cpdef bint _apply_routing(engine, tx, target) except -1
cpdef _run_request(HttpClientProtocol client, Exchange ex)
