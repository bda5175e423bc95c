"""string.*: TrafficScript's string library (strings are byte strings held as latin-1 ``str``)."""

from __future__ import annotations

import base64
import calendar
import hashlib
import html
import ipaddress
import os
import re
import urllib.parse
import zlib
from email.utils import mktime_tz, parsedate_tz
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from .core import RuleRuntimeError, RunContext, builtin, to_int, to_num, to_str


def _b(s: Any) -> bytes:
    return to_str(s).encode("latin-1", "replace")


def _s(b: bytes) -> str:
    return b.decode("latin-1")


@builtin("string.len")
def string_len(s) -> int:
    return len(to_str(s))


@builtin("string.length")
def string_length(s) -> int:
    return len(to_str(s))


@builtin("string.append")
def string_append(s, *more) -> str:
    return to_str(s) + "".join(to_str(m) for m in more)


@builtin("string.lowercase")
def string_lowercase(s) -> str:
    return to_str(s).lower()


@builtin("string.uppercase")
def string_uppercase(s) -> str:
    return to_str(s).upper()


@builtin("string.trim")
def string_trim(s) -> str:
    return to_str(s).strip(" \t\r\n\f\v")


@builtin("string.reverse")
def string_reverse(s) -> str:
    return to_str(s)[::-1]


@builtin("string.left")
def string_left(s, count) -> str:
    n = to_int(count)
    return to_str(s)[:n] if n > 0 else ""


@builtin("string.right")
def string_right(s, count) -> str:
    n = to_int(count)
    return to_str(s)[-n:] if n > 0 else ""


@builtin("string.skip")
def string_skip(s, count) -> str:
    return to_str(s)[max(to_int(count), 0) :]


@builtin("string.drop")
def string_drop(s, count) -> str:
    s, n = to_str(s), to_int(count)
    return s[: max(len(s) - n, 0)] if n > 0 else s


def _offset(s: str, i: int) -> int:
    return i + len(s) if i < 0 else i


@builtin("string.substring")
def string_substring(s, start, end) -> str:
    # Offsets are inclusive at both ends; negative offsets count back from the end ("-1" is the last byte).
    s = to_str(s)
    a, b = _offset(s, to_int(start)), _offset(s, to_int(end))
    a = max(a, 0)
    if b < a:
        return ""
    return s[a : b + 1]


@builtin("string.find")
def string_find(haystack, needle, start=0) -> int:
    h = to_str(haystack)
    return h.find(to_str(needle), max(_offset(h, to_int(start)), 0))


@builtin("string.findI")
def string_findI(haystack, needle, start=0) -> int:
    h = to_str(haystack).lower()
    return h.find(to_str(needle).lower(), max(_offset(h, to_int(start)), 0))


@builtin("string.findr")
def string_findr(haystack, needle, distance_from_end=0) -> int:
    h = to_str(haystack)
    end = len(h) - max(to_int(distance_from_end), 0)
    return h.rfind(to_str(needle), 0, max(end, 0))


@builtin("string.count")
def string_count(haystack, needle, start=0) -> int:
    h, nd = to_str(haystack), to_str(needle)
    if not nd:
        return 0
    return h.count(nd, max(_offset(h, to_int(start)), 0))


@builtin("string.contains")
def string_contains(haystack, needle) -> int:
    if type(haystack) is str and type(needle) is str:
        return 1 if needle in haystack else 0
    return 1 if to_str(needle) in to_str(haystack) else 0


@builtin("string.containsI")
def string_containsI(haystack, needle) -> int:
    return 1 if to_str(needle).lower() in to_str(haystack).lower() else 0


@builtin("string.startsWith")
def string_startsWith(s, prefix) -> int:
    if type(s) is str and type(prefix) is str:  # the common case, kept cheap for routing rules
        return 1 if s.startswith(prefix) else 0
    return 1 if to_str(s).startswith(to_str(prefix)) else 0


@builtin("string.startsWithI")
def string_startsWithI(s, prefix) -> int:
    return 1 if to_str(s).lower().startswith(to_str(prefix).lower()) else 0


@builtin("string.endsWith")
def string_endsWith(s, suffix) -> int:
    if type(s) is str and type(suffix) is str:
        return 1 if s.endswith(suffix) else 0
    return 1 if to_str(s).endswith(to_str(suffix)) else 0


@builtin("string.endsWithI")
def string_endsWithI(s, suffix) -> int:
    return 1 if to_str(s).lower().endswith(to_str(suffix).lower()) else 0


@builtin("string.cmp")
def string_cmp(a, b) -> int:
    a, b = to_str(a), to_str(b)
    return (a > b) - (a < b)


@builtin("string.icmp")
def string_icmp(a, b) -> int:
    a, b = to_str(a).lower(), to_str(b).lower()
    return (a > b) - (a < b)


def _replace(s, search, repl, count: int, fold: bool) -> str:
    s, search, repl = to_str(s), to_str(search), to_str(repl)
    if not search:
        return s
    if not fold:
        return s.replace(search, repl, count)
    return re.sub(re.escape(search), lambda _m: repl, s, count=max(count, 0), flags=re.IGNORECASE)


@builtin("string.replace")
def string_replace(s, search, replacement) -> str:
    return _replace(s, search, replacement, 1, False)


@builtin("string.replaceAll")
def string_replaceAll(s, search, replacement) -> str:
    return _replace(s, search, replacement, -1, False)


@builtin("string.replaceI")
def string_replaceI(s, search, replacement) -> str:
    return _replace(s, search, replacement, 1, True)


@builtin("string.replaceAllI")
def string_replaceAllI(s, search, replacement) -> str:
    return _replace(s, search, replacement, 0, True)


@builtin("string.Ireplace")
def string_Ireplace(s, search, replacement) -> str:
    return _replace(s, search, replacement, 1, True)


@builtin("string.IreplaceAll")
def string_IreplaceAll(s, search, replacement) -> str:
    return _replace(s, search, replacement, 0, True)


@builtin("string.replaceBytes")
def string_replaceBytes(s, replacement, offset) -> str:
    s, r = to_str(s), to_str(replacement)
    i = max(_offset(s, to_int(offset)), 0)
    if i > len(s):
        raise RuleRuntimeError(f"string.replaceBytes offset {to_int(offset)} is past the end of the string")
    return s[:i] + r + s[i + len(r) :]


@builtin("string.insertBytes")
def string_insertBytes(s, insertion, offset) -> str:
    s = to_str(s)
    i = max(_offset(s, to_int(offset)), 0)
    if i > len(s):
        raise RuleRuntimeError(f"string.insertBytes offset {to_int(offset)} is past the end of the string")
    return s[:i] + to_str(insertion) + s[i:]


@builtin("string.split")
def string_split(s, separator=" ") -> list:
    s, sep = to_str(s), to_str(separator)
    if s == "":
        return []
    if sep == "":
        return list(s)
    return s.split(sep)


@builtin("string.sprintf")
def string_sprintf(fmt, *args) -> str:
    fmt = to_str(fmt)
    values = list(args)
    out: list[str] = []
    i = 0
    spec = re.compile(r"%([-+ 0#]*)(\d+|\*)?(?:\.(\d+|\*))?(?:hh|h|ll|l|L|q|j|z|t)?([diouxXeEfgGcs%])")
    while i < len(fmt):
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        m = spec.match(fmt, j)
        if not m:
            out.append("%")
            i = j + 1
            continue
        flags, width, prec, conv = m.groups()
        i = m.end()
        if conv == "%":
            out.append("%")
            continue
        if width == "*":
            width = str(to_int(values.pop(0)) if values else 0)
        if prec == "*":
            prec = str(to_int(values.pop(0)) if values else 0)
        arg = values.pop(0) if values else ""
        pyspec = "%" + flags + (width or "") + (f".{prec}" if prec is not None else "")
        if conv in "di":
            out.append((pyspec + "d") % to_int(arg))
        elif conv == "u":
            out.append((pyspec + "d") % (to_int(arg) & 0xFFFFFFFFFFFFFFFF))
        elif conv in "oxX":
            out.append((pyspec + conv) % (to_int(arg) & 0xFFFFFFFFFFFFFFFF))
        elif conv in "eEfgG":
            out.append((pyspec + conv) % float(to_num(arg)))
        elif conv == "c":
            out.append((pyspec + "s") % chr(to_int(arg) & 0xFF))
        else:
            out.append((pyspec + "s") % to_str(arg))
    return "".join(out)


# regular expressions


@lru_cache(maxsize=1024)
def compile_regex(pattern: str, flags: str = "") -> re.Pattern:
    f = 0
    for ch in flags:
        if ch == "i":
            f |= re.IGNORECASE
        elif ch == "m":
            f |= re.MULTILINE
        elif ch == "s":
            f |= re.DOTALL
        elif ch == "x":
            f |= re.VERBOSE
        elif ch == "g":
            pass  # global: meaningful to regexsub only
        else:
            raise RuleRuntimeError(f"unknown regex flag {ch!r}")
    try:
        return re.compile(pattern, f)
    except re.error as exc:
        raise RuleRuntimeError(f"bad regular expression {pattern!r}: {exc}") from None


@builtin("string.regexmatch", ctx=True)
def string_regexmatch(c: RunContext, s, regex, flags="") -> Any:
    m = compile_regex(to_str(regex), to_str(flags)).search(to_str(s))
    if m is None:
        return 0
    c.captures = (m.group(0), *(g if g is not None else "" for g in m.groups()))
    return 1


@builtin("string.regexsub")
def string_regexsub(s, regex, replacement, flags="") -> str:
    flags = to_str(flags)
    pattern = compile_regex(to_str(regex), flags.replace("g", ""))
    repl = to_str(replacement)

    def expand(m: re.Match) -> str:
        def group(g: re.Match) -> str:
            i = int(g.group(1))
            return (m.group(i) or "") if i <= (pattern.groups or 0) else ""

        return re.sub(r"\$(\d)", group, repl)

    return pattern.sub(expand, to_str(s), count=0 if "g" in flags else 1)


@builtin("string.regexescape")
def string_regexescape(s) -> str:
    return re.sub(r"([^A-Za-z0-9_])", r"\\\1", to_str(s))


@builtin("string.wildmatch")
def string_wildmatch(s, pattern) -> int:
    return 1 if fnmatchcase(to_str(s), to_str(pattern).replace("[", "[[]")) else 0


# encodings


@builtin("string.base64encode")
def string_base64encode(s) -> str:
    return _s(base64.b64encode(_b(s)))


@builtin("string.base64decode")
def string_base64decode(s) -> str:
    text = re.sub(r"[^A-Za-z0-9+/=_-]", "", to_str(s))
    try:
        return _s(
            base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text else None)
        )
    except ValueError:
        return ""


@builtin("string.hexencode")
def string_hexencode(s) -> str:
    return _b(s).hex()


@builtin("string.hexdecode")
def string_hexdecode(s) -> str:
    text = to_str(s)
    try:
        return _s(bytes.fromhex(text if len(text) % 2 == 0 else "0" + text))
    except ValueError:
        return ""


@builtin("string.hexToInt")
def string_hexToInt(s) -> int:
    m = re.match(r"\s*(?:0[xX])?([0-9a-fA-F]+)", to_str(s))
    return int(m.group(1), 16) if m else 0


@builtin("string.intToHex")
def string_intToHex(n) -> str:
    return format(to_int(n) & 0xFFFFFFFFFFFFFFFF, "x")


@builtin("string.urlencode")
def string_urlencode(s) -> str:
    return urllib.parse.quote(_b(s), safe="")


@builtin("string.urlencodeexceptreserved")
def string_urlencodeexceptreserved(s) -> str:
    return urllib.parse.quote(_b(s), safe=";/?:@&=+$,#[]!'()*")


@builtin("string.unescape")
def string_unescape(s) -> str:
    return _s(urllib.parse.unquote_to_bytes(to_str(s)))


@builtin("string.escape")
def string_escape(s) -> str:
    # Makes control characters and non-ASCII bytes visible as %XX, as in vTM's log-friendly escape.
    return "".join(ch if 32 <= ord(ch) < 127 and ch != "%" else f"%{ord(ch):02X}" for ch in to_str(s))


@builtin("string.htmlencode")
def string_htmlencode(s) -> str:
    return html.escape(to_str(s), quote=True).replace("&#x27;", "&#39;")


@builtin("string.htmldecode")
def string_htmldecode(s) -> str:
    return html.unescape(to_str(s))


# hashes and crypto


@builtin("string.hash")
def string_hash(s) -> int:
    return zlib.crc32(_b(s))


@builtin("string.hashMD5")
def string_hashMD5(s) -> str:
    return _s(hashlib.md5(_b(s)).digest())


@builtin("string.hashSHA1")
def string_hashSHA1(s) -> str:
    return _s(hashlib.sha1(_b(s)).digest())


@builtin("string.hashSHA256")
def string_hashSHA256(s) -> str:
    return _s(hashlib.sha256(_b(s)).digest())


@builtin("string.hashSHA384")
def string_hashSHA384(s) -> str:
    return _s(hashlib.sha384(_b(s)).digest())


@builtin("string.hashSHA512")
def string_hashSHA512(s) -> str:
    return _s(hashlib.sha512(_b(s)).digest())


def _keystream(passphrase: bytes, nonce: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(passphrase + nonce + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:length])


@builtin("string.encrypt")
def string_encrypt(s, passphrase) -> str:
    # Not vTM's wire format (undocumented): a SHA-256 keystream with a random nonce and an HMAC-style tag.
    # What matters to rules is that string.decrypt(string.encrypt(x, k), k) == x and tampering is detected.
    data, key = _b(s), _b(passphrase)
    nonce = os.urandom(12)
    body = bytes(a ^ b for a, b in zip(data, _keystream(key, nonce, len(data)), strict=True))
    tag = hashlib.sha256(key + nonce + body).digest()[:16]
    return _s(b"TS1" + nonce + tag + body)


@builtin("string.decrypt")
def string_decrypt(s, passphrase) -> str:
    raw, key = _b(s), _b(passphrase)
    if len(raw) < 31 or not raw.startswith(b"TS1"):
        return ""
    nonce, tag, body = raw[3:15], raw[15:31], raw[31:]
    if hashlib.sha256(key + nonce + body).digest()[:16] != tag:
        return ""
    return _s(bytes(a ^ b for a, b in zip(body, _keystream(key, nonce, len(body)), strict=True)))


@builtin("string.randomBytes")
def string_randomBytes(length) -> str:
    n = to_int(length)
    if n < 0 or n > 1 << 20:
        raise RuleRuntimeError(f"string.randomBytes: bad length {n}")
    return _s(os.urandom(n))


# binary numbers and IP addresses


@builtin("string.bytesToInt")
def string_bytesToInt(s) -> int:
    return int.from_bytes(_b(s), "big") if to_str(s) else 0


@builtin("string.intToBytes")
def string_intToBytes(number, width=4) -> str:
    w = to_int(width)
    if w not in (1, 2, 4, 8):
        raise RuleRuntimeError(f"string.intToBytes: width must be 1, 2, 4 or 8, not {w}")
    return _s((to_int(number) & ((1 << (8 * w)) - 1)).to_bytes(w, "big"))


@builtin("string.BERToInt")
def string_BERToInt(s) -> int:
    value = 0
    for ch in _b(s):
        value = (value << 7) | (ch & 0x7F)
        if not ch & 0x80:
            break
    return value


@builtin("string.intToBER")
def string_intToBER(number) -> str:
    n = to_int(number)
    if n < 0:
        raise RuleRuntimeError("string.intToBER needs a non-negative number")
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return _s(bytes(reversed(out)))


@builtin("string.dottedToBytes")
def string_dottedToBytes(ip) -> str:
    try:
        return _s(ipaddress.ip_address(to_str(ip).strip()).packed)
    except ValueError:
        return ""


@builtin("string.bytesToDotted")
def string_bytesToDotted(s) -> str:
    raw = _b(s)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    if len(raw) == 16:
        return str(ipaddress.IPv6Address(raw))
    return ""


@builtin("string.validIPAddress")
def string_validIPAddress(s) -> int:
    try:
        addr = ipaddress.ip_address(to_str(s).strip())
    except ValueError:
        return 0
    return 4 if addr.version == 4 else 6


@builtin("string.normalizeIPAddress")
def string_normalizeIPAddress(s) -> str:
    try:
        return str(ipaddress.ip_address(to_str(s).strip()))
    except ValueError:
        return ""


@builtin("string.ipmaskmatch")
def string_ipmaskmatch(ip, mask) -> int:
    try:
        addr = ipaddress.ip_address(to_str(ip).strip())
    except ValueError:
        return 0
    for part in re.split(r"[\s,]+", to_str(mask).strip()):
        if not part:
            continue
        try:
            if "/" not in part:
                if addr == ipaddress.ip_address(part):
                    return 1
                continue
            net_part, bits = part.split("/", 1)
            if "." in bits:  # 10.0.0.0/255.0.0.0
                net = ipaddress.ip_network(f"{net_part}/{bits}", strict=False)
            else:
                net = ipaddress.ip_network(f"{net_part}/{int(bits)}", strict=False)
        except ValueError:
            continue
        if addr.version == net.version and addr in net:
            return 1
    return 0


@builtin("string.extractHost")
def string_extractHost(s) -> str:
    host = to_str(s).strip()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else ""
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


@builtin("string.extractPort")
def string_extractPort(s) -> Any:
    host = to_str(s).strip()
    if host.startswith("["):
        end = host.find("]")
        rest = host[end + 1 :] if end > 0 else ""
        return to_int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else ""
    if host.count(":") == 1:
        port = host.split(":", 1)[1]
        return to_int(port) if port.isdigit() else ""
    return ""


@builtin("string.gmtime.parse")
def string_gmtime_parse(s) -> int:
    text = to_str(s).strip()
    parsed = parsedate_tz(text)
    if parsed is None:
        m = re.match(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)", text)
        if not m:
            return 0
        return calendar.timegm(tuple(int(g) for g in m.groups()) + (0, 0, 0))
    return mktime_tz(parsed)
