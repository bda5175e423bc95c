"""Strict HTTP/1.1 message framing (RFC 9110 / 9112): request and response heads, and chunked bodies.

One pass over the raw head with a few compiled regular expressions (C, not per-header Python callbacks):
the head is validated as a whole, only the fields that matter to framing and proxying are picked out,
and the head sent on is the raw block with just those lines rewritten. Anything doubtful is refused
before a byte of it reaches a node (request smuggling lives in the gaps between lenient parsers).
httptools is not used for requests: it cannot say where one pipelined message ends (its callbacks
cannot stop it), and it lets HTTP/0.9, a missing Host and other faults through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

try:
    import cython
except ImportError:  # Cython builds the engine; a traffic manager runs without it (then nothing is compiled)
    COMPILED = False
else:
    COMPILED = cython.compiled  # True only inside the compiled module

TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# the request line: method SP request-target SP HTTP-version (no fragments, visible ASCII only)
REQUEST_LINE = re.compile(rb"(" + TOKEN + rb"+) ([\x21-\x22\x24-\x7e]++) HTTP/([0-9])\.([0-9])")  # possessive: see BLOCK
STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: ([\t\x20-\x7e\x80-\xff]*))?")
# every header line a token, a colon, and a value of VCHAR / obs-text / SP / HTAB (used for trailer lines)
FIELDS = re.compile(rb"(?:" + TOKEN + rb"+:[\t\x20-\x7e\x80-\xff]*+\r\n)*+")
# a whole header block: field lines (a token, a colon, VCHAR / obs-text / SP / HTAB), then the empty line; so a bare
# CR or LF, a control character, obs-fold, a first line starting with whitespace, whitespace before a colon all fail
# possessive quantifiers (nothing here ever needs to backtrack: a name stops at its colon, a value at its CR, and the
# empty line cannot start a field) make the regular expression engine 2.5x faster on a typical response head
BLOCK = re.compile(rb"(?:" + TOKEN + rb"+:[\t\x20-\x7e\x80-\xff]*+\r\n)*+\r\n")
# the fields framing and proxying care about (lower-case names); everything else passes through untouched
REQUEST_FIELDS = frozenset((b"host", b"content-length", b"connection", b"transfer-encoding", b"te", b"trailer",
                            b"upgrade", b"expect", b"keep-alive", b"proxy-connection", b"x-forwarded-for",
                            b"x-forwarded-proto", b"x-forwarded-port", b"x-cluster-client-ip"))  # fmt: skip
RESPONSE_FIELDS = frozenset((b"content-length", b"connection", b"transfer-encoding", b"te", b"trailer", b"upgrade",
                             b"keep-alive", b"proxy-connection"))  # fmt: skip
LONGEST_FIELD = max(map(len, REQUEST_FIELDS | RESPONSE_FIELDS))


def _name_shapes(names: frozenset[bytes]) -> tuple[bytes, tuple[bytes, ...]]:
    """A table, by length * 256 + first byte (letters in lower case), of which name of ``names`` a field name of that
    shape might be (its index in the tuple returned with the table, plus one; 0 for none): the compiled scan compares a
    field name with that one name only, and takes the name from the tuple (no bytes made, none hashed)."""
    table = bytearray((LONGEST_FIELD + 1) * 256)
    ordered = tuple(sorted(names))
    for i, name in enumerate(ordered):
        slot = len(name) * 256 + name[0]
        if table[slot]:
            raise ValueError(f"two interesting field names of one shape: {name!r}, {ordered[table[slot] - 1]!r}")
        table[slot] = i + 1
    return bytes(table), ordered


NAME_SHAPES = {names: _name_shapes(names)[0] for names in (REQUEST_FIELDS, RESPONSE_FIELDS)}
NAME_LISTS = {names: _name_shapes(names)[1] for names in (REQUEST_FIELDS, RESPONSE_FIELDS)}
# the same, found by regular expression in the lower-cased block, for the .py module (findall, then a find for each
# one found: match objects from finditer cost more than the rest of the scan)
_NAME_PATTERNS = {
    names: re.compile(rb"\n(" + b"|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + rb"):")
    for names in (REQUEST_FIELDS, RESPONSE_FIELDS)
}
# byte classes for the compiled scan (RFC 9110 5.1, 5.5): 1 where a byte may appear in a field name, a field value
TOKEN_BYTES = bytes(1 if bytes((b,)).isalnum() and b < 128 or b in b"!#$%&'*+-.^_`|~" else 0 for b in range(256))
TARGET_BYTES = bytes(1 if 0x21 <= b <= 0x7E and b != 0x23 else 0 for b in range(256))  # visible ASCII but "#"
VALUE_BYTES = bytes(1 if b == 9 or 0x20 <= b <= 0x7E or b >= 0x80 else 0 for b in range(256))
LOWER_BYTES = bytes(range(256)).lower()
# words of eight equal bytes, for scanning a field value eight bytes at a time (compiled scan_fields)
ONES, SPACES, DELS, TOPS = 0x0101010101010101, 0x2020202020202020, 0x7F7F7F7F7F7F7F7F, 0x8080808080808080  # each byte's ASCII lower case (a table for the compiled scan)
HOST = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::[0-9]*)?")
ABSOLUTE = re.compile(rb"(?i:https?)://([^/?#@]+)([^#]*)")
CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})((?:[ \t]*;[ \t]*" + TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + TOKEN +
                        rb'|"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*"))?)*)[ \t]*')  # fmt: skip
HOP_BY_HOP = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding",
                        b"upgrade"))  # fmt: skip
MAX_64 = (1 << 63) - 1


@dataclass(frozen=True)
class Limits:
    """Request size limits: a long request line is a 414, anything else too big a 431."""

    max_url_length: int = 8192
    max_header_length: int = 8192
    max_request_length: int = 65536
    max_header_count: int = 100
    max_chunk_header_length: int = 4096
    # a head no longer than this cannot break any of the limits above (a field line takes at least 4 bytes), so
    # a request that short skips their checks
    small: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "small", min(self.max_request_length, self.max_url_length,
                                              self.max_header_length or self.max_request_length,
                                              4 * self.max_header_count))  # fmt: skip


DEFAULT_LIMITS = Limits()


class HttpError(Exception):
    """A message that must be refused: ``status`` for the client (400, 413, 414, 431, 501, 505)."""

    def __init__(self, status: int, why: str):
        super().__init__(why)
        self.status = status


def head_too_big(buf: bytes, limits: Limits) -> HttpError | None:
    """A head still incomplete in ``buf``: is it already over a limit, or broken (a bare LF: it would never end)?"""
    if b"\n" in buf and buf.count(b"\n") != buf.count(b"\r\n"):
        return HttpError(400, "line ending without CR")
    eol = buf.find(b"\r\n")
    if eol < 0:
        return HttpError(414, "request line too long") if len(buf) > limits.max_url_length + 64 else None
    if len(buf) > limits.max_request_length:
        return HttpError(431, "request header too large")
    last = buf.rfind(b"\r\n")
    if len(buf) - last > limits.max_header_length + 2:
        return HttpError(431, "header line too long")
    return None


NO_TOKENS: frozenset[bytes] = frozenset()
GET = b"GET"
METHOD_GET = GET  # the same object, importable (GET is a C variable compiled)
REASON_OK = b"OK"


class RequestHead:
    """A validated request head: what framing and routing need, the rest kept as raw bytes. Never changed once
    parsed. (Compiled, a C struct: see http1.pxd.)"""

    def __init__(self):
        self.method = b"GET"
        self.target = b"/"
        self.version = "1.1"
        self.http10 = False
        self.block = b"\r\n"
        self.fields = []  # (start, end, lower name, value) of INTERESTING lines
        self.host = b""
        self.content_length = 0
        self.chunked = False
        self.keep_alive = True
        self.upgrade = b""
        self.expect_continue = False
        self.tokens = NO_TOKENS  # of the Connection fields


def header_list(r: RequestHead) -> list[tuple[bytes, bytes]]:
    """A request head's header fields as (name, value) bytes, parsed from the raw block (an absolute-form
    target's authority is the Host)."""
    h = [(n, v.strip(b" \t")) for n, _, v in (line.partition(b":") for line in r.block[:-2].split(b"\r\n")[:-1])]
    authority = [f[3] for f in r.fields if f[0] < 0]
    if authority:
        h = [(n, v) for n, v in h if n.lower() != b"host"] + [(b"Host", authority[0])]
    return h


def scan_fields(block: bytes, names: frozenset[bytes], status: int) -> list[tuple[int, int, bytes, bytes]]:
    """Validate a header block (field lines, then the empty line) and locate the fields whose lower-case name is in
    ``names``: (start, end, lower-case name, value) with offsets of the whole line in ``block``, in order.

    PERFORMANCE-NOTES: compiled, this is one pass of C over the bytes (a table lookup per byte): hotpath.py measured
    the regular expressions below at ~16% of a proxied request, this at ~2%. The .py runs the regular expressions,
    which are faster than a Python loop (test_http1_fuzz checks the two agree)."""
    if not COMPILED:
        return scan_fields_re(block, names, status)
    n = len(block)
    p = block  # compiled: a C pointer to the bytes (http1.pxd), so no bounds checks per byte
    token, value, lower = TOKEN_BYTES, VALUE_BYTES, LOWER_BYTES
    shapes = NAME_SHAPES[names]
    candidates = NAME_LISTS[names]
    fields = []
    i = 0
    w = 0  # compiled: eight bytes of a value as a word (http1.pxd)
    while True:
        if i + 1 < n and p[i] == 13 and p[i + 1] == 10:  # the empty line: it must end the block
            if i + 2 != n:
                raise HttpError(status, "malformed header field")
            return fields
        start = i
        while i < n and token[p[i]]:
            i += 1
        if i == start or i >= n or p[i] != 58:  # a name, then a colon (no whitespace before it)
            raise HttpError(status, "malformed header field")
        colon = i
        i += 1
        # eight bytes at a time while none of them is a control character (one of them is the CR ending the line):
        # a byte below 0x20 or 0x7F in the word sets its top bit in one of the two tests
        while i + 8 <= n:
            memcpy(cython.address(w), p + i, 8)  # noqa: F821 (C, http1.pxd)
            x = w ^ DELS
            if ((w - SPACES) & ~w & TOPS) | ((x - ONES) & ~x & TOPS):
                break
            i += 8
        while i < n and value[p[i]]:
            i += 1
        if i + 1 >= n or p[i] != 13 or p[i + 1] != 10:  # a bare CR or LF, a control character, the end
            raise HttpError(status, "malformed header field")
        slot = shapes[(colon - start) * 256 + (p[start] | 0x20)] if colon - start <= LONGEST_FIELD else 0
        if slot:  # the one name of ``names`` of this shape: compared in lower case, byte by byte
            name = candidates[slot - 1]
            q = name  # compiled: a C pointer (http1.pxd)
            k = 1
            while k < colon - start and lower[p[start + k]] == q[k]:
                k += 1
            if k == colon - start:
                v, e = colon + 1, i  # the value without the whitespace around it
                while v < e and (p[v] == 32 or p[v] == 9):
                    v += 1
                while e > v and (p[e - 1] == 32 or p[e - 1] == 9):
                    e -= 1
                fields.append((start, i + 2, name, p[v:e]))
        i += 2


def scan_fields_re(block: bytes, names: frozenset[bytes], status: int) -> list[tuple[int, int, bytes, bytes]]:
    """scan_fields with regular expressions (what the .py module runs)."""
    if BLOCK.fullmatch(block) is None:
        raise HttpError(status, "malformed header field")
    lb = b"\n" + block.lower()
    fields = []
    for m in _NAME_PATTERNS[names].finditer(lb):
        i, v = m.span()
        pos = lb.find(b"\r", v)
        fields.append((i, pos + 1, m[1], block[v - 1 : pos - 1].strip(b" \t")))
    return fields


def head_end(buf: bytes) -> int:
    """The offset of the CRLF CRLF that ends the message head at the start of ``buf``, or -1 while it has not all
    arrived.

    PERFORMANCE-NOTES: compiled, memchr finds each CR (the C library's vectorised scan) and only those are looked
    at: bench/instructions.py counted bytes.find's method call and search at ~1k instructions per head."""
    if not COMPILED:
        return buf.find(b"\r\n\r\n")
    return _crlf(buf, True)


def line_end(buf: bytes) -> int:
    """The offset of the first CRLF in ``buf``, or -1 (compiled, memchr for each CR: no bytes.find method call)."""
    if not COMPILED:
        return buf.find(b"\r\n")
    return _crlf(buf, False)


def _crlf(buf: bytes, blank: bool) -> int:
    """Compiled only: the offset of the first CRLF in ``buf`` (with ``blank``, of the first CRLF CRLF), or -1."""
    n = len(buf)
    p = buf  # a C pointer (http1.pxd)
    need = 4 if blank else 2
    i = 0
    while i + need <= n:
        q = cython.cast("const unsigned char*", memchr(p + i, 13, n - need + 1 - i))  # noqa: F821 (C, http1.pxd)
        if q == cython.NULL:
            return -1
        i = q - p
        if p[i + 1] == 10 and (not blank or (p[i + 2] == 13 and p[i + 3] == 10)):
            return i
        i += 1
    return -1


def build_head(before: tuple, block: bytes, cuts: list | None, after: tuple) -> bytes:
    """A message head to send on: the pieces of ``before``, ``block`` without its final CRLF and without the lines at
    the (start, end) offsets in ``cuts`` (in order; None for none), then the pieces of ``after``.

    PERFORMANCE-NOTES: compiled, one bytes object is allocated and the pieces copied into it: the list of parts,
    the slices of the block and b"".join they replace cost ~900 instructions per head (bench/instructions.py)."""
    end = len(block) - 2
    if not COMPILED:
        kept, last = [], 0
        for start, stop in cuts or ():
            kept.append(block[last:start])
            last = stop
        kept.append(block[last:end])
        return b"".join([*before, *kept, *after])
    total = end
    for piece in before:
        total += len(piece)
    for piece in after:
        total += len(piece)
    if cuts is not None:
        for start, stop in cuts:
            total -= stop - start
    out = PyBytes_FromStringAndSize(cython.NULL, total)  # noqa: F821 (C, http1.pxd)
    w = cython.cast("char*", PyBytes_AS_STRING(out))  # noqa: F821 (C, http1.pxd)
    pos = 0
    for piece in before:
        q = piece  # compiled: a C pointer (http1.pxd)
        memcpy(w + pos, q, len(piece))  # noqa: F821 (C, http1.pxd)
        pos += len(piece)
    p = block  # compiled: a C pointer (http1.pxd)
    last = 0
    if cuts is not None:
        for start, stop in cuts:
            memcpy(w + pos, p + last, start - last)  # noqa: F821 (C, http1.pxd)
            pos += start - last
            last = stop
    memcpy(w + pos, p + last, end - last)  # noqa: F821 (C, http1.pxd)
    pos += end - last
    for piece in after:
        q = piece
        memcpy(w + pos, q, len(piece))  # noqa: F821 (C, http1.pxd)
        pos += len(piece)
    return out


def find_byte(buf: bytes, byte: int) -> int:
    """The offset of the first ``byte`` in ``buf``, or -1 (compiled, memchr: no bytes.find method call)."""
    if not COMPILED:
        return buf.find(bytes((byte,)))
    p = buf  # compiled: a C pointer (http1.pxd)
    q = cython.cast("const unsigned char*", memchr(p, byte, len(buf)))  # noqa: F821 (C, http1.pxd)
    return -1 if q == cython.NULL else q - p


def decimal(v: bytes) -> int:
    """A Content-Length or chunk size of 1 to 18 ASCII digits as its value (it fits 64 bits), else -1: no sign, no
    "_", no Unicode digit, which int() would take (compiled, a loop over the bytes instead of isdigit() and int())."""
    n = len(v)
    if n == 0 or n > 18:
        return -1
    if not COMPILED:
        return int(v) if v.isdigit() else -1
    p = v  # compiled: a C pointer (http1.pxd)
    value = 0
    for i in range(n):
        d = p[i] - 48
        if d < 0 or d > 9:
            return -1
        value = value * 10 + d
    return value


_TOKENS: dict[bytes, frozenset[bytes]] = {}


def connection_tokens(value: bytes) -> frozenset[bytes]:
    """The tokens of a Connection field (cached: nearly every message says keep-alive or close)."""
    tokens = _TOKENS.get(value)
    if tokens is None:
        tokens = frozenset([t.strip().lower() for t in value.split(b",")])
        if len(_TOKENS) < 256:
            _TOKENS[value] = tokens
    return tokens


def _content_length(values: list[bytes], status: int) -> int:
    if len(values) > 1 and any(v != values[0] for v in values):
        raise HttpError(status, "conflicting Content-Length")
    if len(values) > 1 and status == 400:
        raise HttpError(status, "duplicate Content-Length")
    v = values[0]
    if not v.isdigit() or len(v) > 19 or int(v) > MAX_64:  # bytes.isdigit: ASCII 0-9 only, no sign, no "_"
        raise HttpError(status, "invalid Content-Length")
    return int(v)


def _transfer_coding(values: list[bytes], status: int) -> bool:
    """True for a body framed as chunked; raises for anything else a request may not use."""
    codings = [c.strip().lower() for v in values for c in v.split(b",")]
    if codings == [b"chunked"]:
        return True
    if b"chunked" in codings[:-1]:
        raise HttpError(400, "chunked is not the final transfer coding")
    if any(not c for c in codings):
        raise HttpError(400, "invalid Transfer-Encoding")
    raise HttpError(status, "unsupported transfer coding")


def request_line(line: bytes) -> tuple[bytes, bytes, int, int] | None:
    """A valid request line's method, target and the two digits of its version (as byte values), else None:
    method SP request-target SP HTTP/digit.digit, no fragment, visible ASCII only. (Compiled, a loop over the bytes;
    the .py uses REQUEST_LINE.)"""
    if not COMPILED:
        m = REQUEST_LINE.fullmatch(line)
        return None if m is None else (m[1], m[2], m[3][0], m[4][0])
    n = len(line)
    p, token, target = line, TOKEN_BYTES, TARGET_BYTES  # compiled: C pointers (http1.pxd)
    i = 0
    while i < n and token[p[i]]:
        i += 1
    method_end = i
    if method_end == 0 or i >= n or p[i] != 32:
        return None
    i += 1
    while i < n and target[p[i]]:
        i += 1
    target_end = i
    # then exactly " HTTP/" digit "." digit
    if target_end == method_end + 1 or n - target_end != 9 or not line.endswith(b" HTTP/", 0, n - 3):
        return None
    major, dot, minor = p[n - 3], p[n - 2], p[n - 1]
    if not (48 <= major <= 57 and dot == 46 and 48 <= minor <= 57):
        return None
    if method_end == 3 and p[0] == 71 and p[1] == 69 and p[2] == 84:  # "GET": the one object (its hash kept)
        method = GET
    else:
        method = p[:method_end]
    return method, p[method_end + 1 : target_end], major, minor


def parse_request(head: bytes, limits: Limits = DEFAULT_LIMITS) -> RequestHead:
    """``head``: the bytes up to and including the CRLF CRLF that ends it (leading empty lines removed)."""
    small = len(head) <= limits.small  # then no size limit can be exceeded: their checks are skipped
    if not small and len(head) > limits.max_request_length:
        raise HttpError(431, "request header too large")
    eol = line_end(head)
    if eol < 0:  # a head ends with CRLF CRLF: not this one
        raise HttpError(400, "malformed request line")
    n = len(head)
    p = head  # compiled: a C pointer (http1.pxd); its slices below are within the head
    line = p[:eol]
    if not small and eol > limits.max_url_length + 16:
        raise HttpError(414, "request line too long")
    m = request_line(line)
    if m is None:
        if b"#" in line and REQUEST_LINE.fullmatch(line.replace(b"#", b"/")):
            raise HttpError(400, "fragment in the request target")
        if re.fullmatch(rb"[A-Z]+ \S+ HTTP/[0-9]+\.[0-9]+", line) and not line.endswith((b"HTTP/1.1", b"HTTP/1.0")):
            raise HttpError(505, "HTTP version not supported")
        raise HttpError(400, "malformed request line")
    r = RequestHead()
    method, target, major, minor = m
    if major != 49:  # "1"
        raise HttpError(505, "HTTP version not supported")
    r.method, r.version = method, "1.1" if minor != 48 else "1.0"
    r.http10 = minor == 48
    block = p[eol + 2 : n]
    if not small:
        if len(target) > limits.max_url_length:
            raise HttpError(414, "request target too long")
        if block.count(b"\r\n") - 1 > limits.max_header_count:
            raise HttpError(431, "too many header fields")
        if limits.max_header_length and len(block) > limits.max_header_length and _longest_line(block) > \
                limits.max_header_length:  # fmt: skip
            raise HttpError(431, "header field too long")
    r.block = block
    fields = r.fields = scan_fields(block, REQUEST_FIELDS, 400)
    hosts, lengths, codings = [], [], []
    for _, _, name, value in fields:
        if name == b"host":
            hosts.append(value)
        elif name == b"content-length":
            lengths.append(value)
        elif name == b"transfer-encoding":
            codings.append(value)
        elif name == b"connection":
            r.tokens = r.tokens | connection_tokens(value)
        elif name == b"upgrade":
            r.upgrade = value
        elif name == b"expect":
            if value.lower() != b"100-continue":
                raise HttpError(417 if value else 400, "unsupported expectation")
            r.expect_continue = True
    # request target forms (RFC 9112 3.2): origin, absolute (its authority replaces Host), asterisk, authority
    if target[0:1] != b"/":
        am = ABSOLUTE.fullmatch(target)
        if am is not None:
            authority, path = am.groups()
            if not HOST.fullmatch(authority):
                raise HttpError(400, "invalid authority in the request target")
            target = path or b"/"
            if target[0:1] != b"/":
                target = b"/" + target
            hosts = hosts[:1] and [authority] or [authority]
            r.fields = fields = [f for f in fields if f[2] != b"host"]
            fields.append((-1, -1, b"host", authority))
        elif target == b"*" and method == b"OPTIONS":
            pass
        elif method == b"CONNECT":
            raise HttpError(501, "CONNECT is not supported")
        else:
            raise HttpError(400, "invalid request target")
    elif method == b"CONNECT":
        raise HttpError(501, "CONNECT is not supported")
    r.target = target
    if len(hosts) != 1:
        if len(hosts) > 1:
            raise HttpError(400, "duplicate Host")
        if r.version == "1.1":
            raise HttpError(400, "missing Host")
    else:
        host = hosts[0]
        known = _GOOD_HOSTS.get(host)  # the same few hosts, again and again
        if known is None:
            if not host or not HOST.fullmatch(host):
                raise HttpError(400, "invalid Host")
            if len(_GOOD_HOSTS) >= 1024:
                _GOOD_HOSTS.clear()
            known = _GOOD_HOSTS[host] = host
        r.host = known  # the one object for this Host: its hash is kept (the dicts keyed by it find it at once)
    if codings:
        if lengths:
            raise HttpError(400, "both Content-Length and Transfer-Encoding")
        if r.version == "1.0":
            raise HttpError(400, "Transfer-Encoding in an HTTP/1.0 request")
        r.chunked = _transfer_coding(codings, 501)
    elif lengths:
        length = decimal(lengths[0]) if len(lengths) == 1 else -1  # the usual case: ASCII digits, fits 64 bits
        r.content_length = length if length >= 0 else _content_length(lengths, 400)
    tokens = r.tokens
    if tokens or r.version != "1.1":
        r.keep_alive = b"close" not in tokens if r.version == "1.1" else b"keep-alive" in tokens
    if r.upgrade and b"upgrade" not in tokens:
        r.upgrade = b""  # an Upgrade the client did not list in Connection is ignored (RFC 9110 7.8)
    return r


_GOOD_HOSTS: dict[bytes, bytes] = {}  # Host values already found valid, each to the one object kept for it


def _longest_line(block: bytes) -> int:
    return max(map(len, block.split(b"\r\n")))


class ResponseHead:
    """A node's response head, validated: framing decided, hop-by-hop lines located for removal."""

    def __init__(self):
        self.status = 200
        self.reason = b""
        self.version = "1.1"
        self.block = b"\r\n"
        self.fields = []
        self.content_length = 0
        self.chunked = False
        self.until_close = False
        self.tokens = NO_TOKENS
        self.keep_alive = True
        self.upgrade = False


def status_line(head: bytes, eol: int) -> int:
    """For a valid status line ``head[:eol]`` (HTTP/1.0 or 1.1, a status code 100-999, an optional reason of VCHAR /
    obs-text / SP / HTAB), its minor version * 1000 + its status code; else -1. (Compiled, a loop over the bytes; the
    .py uses STATUS_LINE.)"""
    if not COMPILED:
        m = STATUS_LINE.fullmatch(head, 0, eol)
        return -1 if m is None else (1000 if m[1] == b"1" else 0) + int(m[2])
    if eol < 12:
        return -1
    p, value = head, VALUE_BYTES  # compiled: C pointers (http1.pxd)
    if not (p[0] == 72 and p[1] == 84 and p[2] == 84 and p[3] == 80 and p[4] == 47 and p[5] == 49 and p[6] == 46):
        return -1  # not "HTTP/1."
    minor, d1, d2, d3 = p[7], p[9], p[10], p[11]
    if not (48 <= minor <= 49 and p[8] == 32 and 49 <= d1 <= 57 and 48 <= d2 <= 57 and 48 <= d3 <= 57):
        return -1
    if eol > 12:
        if p[12] != 32:
            return -1
        i = 13
        while i < eol:
            if not value[p[i]]:
                return -1
            i += 1
    return (minor - 48) * 1000 + (d1 - 48) * 100 + (d2 - 48) * 10 + d3 - 48


def parse_response(head: bytes, request_method: bytes) -> ResponseHead:
    """Validate a node's response head; an HttpError (status 502) for anything malformed or ambiguous."""
    eol = line_end(head)
    version_status = status_line(head, eol)
    if version_status < 0:
        raise HttpError(502, "malformed status line")
    n = len(head)
    p = head  # compiled: a C pointer (http1.pxd); eol is within the head (status_line checked it)
    block = p[eol + 2 : n]
    r = ResponseHead()
    r.status = status = version_status % 1000
    minor = b"1" if version_status >= 1000 else b"0"
    if eol == 15 and p[13] == 79 and p[14] == 75:  # "OK": the one object (http.response_head knows it)
        r.reason = REASON_OK
    elif eol > 13:
        r.reason = p[13:eol]
    if minor != b"1":
        r.version = "1.0"
    r.block = block
    r.fields = fields = scan_fields(block, RESPONSE_FIELDS, 502)
    lengths, codings, tokens = [], [], NO_TOKENS
    for _, _, name, value in fields:
        if name == b"content-length":
            lengths.append(value)
        elif name == b"transfer-encoding":
            codings.append(value)
        elif name == b"connection":
            tokens = tokens | connection_tokens(value) if tokens else connection_tokens(value)
    if tokens or minor != b"1":
        r.tokens = tokens
        r.keep_alive = b"close" not in tokens if minor == b"1" else b"keep-alive" in tokens
    if status == 101:
        r.upgrade = True
    if codings and lengths:
        raise HttpError(502, "both Content-Length and Transfer-Encoding")
    if request_method == b"HEAD" or status in (204, 304) or status < 200:
        return r
    if codings:
        codes = [c.strip().lower() for v in codings for c in v.split(b",")]
        if codes[-1] == b"chunked" and b"chunked" not in codes[:-1]:
            if len(codes) > 1:
                raise HttpError(502, "transfer codings other than chunked")
            r.chunked = True
        else:
            r.until_close = True  # RFC 9112 6.3: not chunked last: the body ends when the node closes
            r.keep_alive = False
    elif lengths:
        length = decimal(lengths[0]) if len(lengths) == 1 else -1
        r.content_length = length if length >= 0 else _content_length(lengths, 502)
    else:
        r.until_close = True
        r.keep_alive = False
    return r


class ChunkedReader:
    """Validates a chunked body as it streams, and says which bytes of each read belong to it.

    Bytes are passed on verbatim (chunk extensions and trailer fields too) once the line they are in has
    been checked, or, with ``decode``, only the chunk data. A framing error raises HttpError.
    """

    __slots__ = ("state", "left", "line", "done", "decode", "error_status", "max_line", "trailer_size", "data_size")

    SIZE, DATA, DATA_CRLF, TRAILER = range(4)

    def __init__(self, max_line: int = 4096, error_status: int = 400, decode: bool = False):
        self.state = self.SIZE
        self.left = 0
        self.line = b""  # an incomplete size or trailer line
        self.done = False
        self.decode = decode
        self.error_status = error_status
        self.max_line = max_line
        self.trailer_size = 0
        self.data_size = 0  # chunk data bytes so far (the payload, without framing)

    def feed(self, data, pos: int, out: list) -> int:
        """Consume ``data[pos:]``, append what to pass on to ``out``; returns the position after the body (or len)."""
        n = len(data)
        mv = memoryview(data)
        keep_framing = not self.decode
        while pos < n and not self.done:
            state = self.state
            if state == self.DATA:
                take = min(self.left, n - pos)
                out.append(mv[pos : pos + take])
                pos += take
                self.left -= take
                self.data_size += take
                if not self.left:
                    self.state = self.DATA_CRLF
                    self.line = b""
                continue
            if state == self.DATA_CRLF:
                got = bytes(mv[pos : pos + 2 - len(self.line)])
                self.line += got
                pos += len(got)
                if len(self.line) == 2:
                    if self.line != b"\r\n":
                        raise HttpError(self.error_status, "chunk data not followed by CRLF")
                    if keep_framing:
                        out.append(b"\r\n")
                    self.state, self.line = self.SIZE, b""
                continue
            # a line: a chunk size (with extensions) or a trailer field; passed on only once it is whole and valid
            eol = data.find(b"\n", pos)
            if eol < 0:
                self.line += bytes(mv[pos:])
                if len(self.line) > self.max_line:
                    raise HttpError(self.error_status, "chunk header line too long")
                return n
            raw = self.line + bytes(mv[pos : eol + 1])
            self.line = b""
            pos = eol + 1
            if len(raw) > self.max_line + 2 or raw[-2:-1] != b"\r":
                raise HttpError(self.error_status, "bad chunk line")
            line = raw[:-2]
            if state == self.SIZE:
                m = CHUNK_SIZE.fullmatch(line)
                if m is None:
                    raise HttpError(self.error_status, "invalid chunk size")
                size = int(m.group(1), 16)
                if size > MAX_64:
                    raise HttpError(self.error_status, "chunk size too large")
                if size:
                    self.state, self.left = self.DATA, size
                else:
                    self.state = self.TRAILER
            elif not line:
                self.done = True
            elif not FIELDS.fullmatch(raw):
                raise HttpError(self.error_status, "malformed trailer field")
            else:
                self.trailer_size += len(raw)
                if self.trailer_size > 65536:
                    raise HttpError(self.error_status, "trailer section too large")
            if keep_framing:
                out.append(raw)
        return pos
