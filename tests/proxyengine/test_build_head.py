"""http1.build_head: a head to send on, assembled in one allocation (compiled) or joined (the .py)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from proxyengine.http1 import RESPONSE_FIELDS, build_head, scan_fields

LINES = st.lists(st.sampled_from([b"Host: a\r\n", b"Connection: close\r\n", b"X-A: 1\r\n", b"Keep-Alive: t=5\r\n",
                                  b"Content-Length: 0\r\n"]), max_size=6)  # fmt: skip


def test_pieces_block_and_cuts():
    block = b"Host: a\r\nConnection: close\r\nX: 1\r\n\r\n"
    assert build_head((b"GET", b" / ", b"HTTP/1.1\r\n"), block, None, (b"\r\n",)) == (
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX: 1\r\n\r\n"
    )
    assert build_head((b"L\r\n",), block, [(9, 28)], (b"Y: 2\r\n", b"\r\n")) == b"L\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n"
    assert build_head((), b"\r\n", None, (b"A", b"", b"B")) == b"AB"
    assert build_head((b"x",), b"H: 1\r\nJ: 2\r\n\r\n", [(0, 6), (6, 12)], ()) == b"x"


@settings(max_examples=200, deadline=None)
@given(LINES, st.lists(st.binary(max_size=20), max_size=4), st.lists(st.binary(max_size=20), max_size=4))
def test_the_block_less_its_cut_lines(lines, before, after):
    block = b"".join(lines) + b"\r\n"
    fields = scan_fields(block, RESPONSE_FIELDS, 502)
    cuts = [(start, end) for start, end, name, _ in fields if name in (b"connection", b"keep-alive")] or None
    kept = b"".join(line for line in lines if not line.startswith((b"Connection", b"Keep-Alive")))
    assert build_head(tuple(before), block, cuts, tuple(after)) == b"".join(before) + kept + b"".join(after)
