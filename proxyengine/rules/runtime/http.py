"""http.*: read and rewrite HTTP requests and responses, send local responses, redirect."""

from __future__ import annotations

import posixpath
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ..context import Headers, LocalResponse
from .core import RuleRuntimeError, RunContext, StopRule, builtin, need_response, to_int, to_str

REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _body(b: bytes | None) -> str:
    return "" if b is None else b.decode("latin-1")


def _bytes(s: Any) -> bytes:
    return to_str(s).encode("latin-1", "replace")


def _need_http(c: RunContext, fn: str) -> None:
    if c.tx.protocol != "http":
        raise RuleRuntimeError(f"{fn} can only be used on an HTTP virtual server")


_BAD_HEADER_NAME = re.compile(r"[:\r\n \t]")


def _check_header(name: str, value: str = "") -> None:
    if not name or _BAD_HEADER_NAME.search(name) or "\r" in value or "\n" in value:
        raise RuleRuntimeError(f"invalid header {name!r}")


def _req_changed(c: RunContext) -> None:
    c.tx.request_changed = True


def _resp_changed(c: RunContext) -> None:
    c.tx.response_changed = True


def finish(c: RunContext) -> None:
    c.tx.finished = True
    raise StopRule


# request line


@builtin("http.getMethod", ctx=True)
def http_getMethod(c: RunContext) -> str:
    return c.tx.method


@builtin("http.setMethod", ctx=True)
def http_setMethod(c: RunContext, method) -> int:
    m = to_str(method)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", m):
        raise RuleRuntimeError(f"invalid HTTP method {m!r}")
    c.tx.method = m
    _req_changed(c)
    return 1


@builtin("http.getPath", ctx=True)
def http_getPath(c: RunContext) -> str:
    path = c.tx.path
    return urllib.parse.unquote(path, encoding="latin-1") if "%" in path else path


@builtin("http.setPath", ctx=True)
def http_setPath(c: RunContext, url) -> int:
    path = to_str(url)
    if not path.startswith("/"):
        raise RuleRuntimeError(f"http.setPath needs a path starting with '/', got {path!r}")
    c.tx.path = urllib.parse.quote(path, safe="/:@!$&'()*+,;=-._~%", encoding="latin-1")
    _req_changed(c)
    return 1


@builtin("http.setRawPath", ctx=True)
def http_setRawPath(c: RunContext, url) -> int:
    path = to_str(url)
    if not path.startswith("/") or any(ch in path for ch in " \r\n"):
        raise RuleRuntimeError(f"invalid raw path {path!r}")
    path, sep, query = path.partition("?")
    c.tx.path = path
    if sep:
        c.tx.query = query
    _req_changed(c)
    return 1


@builtin("http.setEscapedPath", ctx=True)
def http_setEscapedPath(c: RunContext, url) -> int:
    return http_setRawPath(c, url)


@builtin("http.getQueryString", ctx=True)
def http_getQueryString(c: RunContext) -> str:
    return c.tx.query


@builtin("http.getRawQueryString", ctx=True)
def http_getRawQueryString(c: RunContext) -> str:
    return c.tx.query


@builtin("http.setQueryString", ctx=True)
def http_setQueryString(c: RunContext, querystring) -> int:
    q = to_str(querystring)
    c.tx.query = q[1:] if q.startswith("?") else q
    _req_changed(c)
    return 1


@builtin("http.setRawQueryString", ctx=True)
def http_setRawQueryString(c: RunContext, querystring) -> int:
    return http_setQueryString(c, querystring)


@builtin("http.getRawURL", ctx=True)
def http_getRawURL(c: RunContext) -> str:
    return c.tx.path + ("?" + c.tx.query if c.tx.query else "")


@builtin("http.getVersion", ctx=True)
def http_getVersion(c: RunContext) -> str:
    return c.tx.http_version.removeprefix("HTTP/")


@builtin("http.normalizePath")
def http_normalizePath(url) -> str:
    path = to_str(url)
    path, sep, query = path.partition("?")
    if not path:
        return path + sep + query
    trailing = path.endswith("/") or path.endswith("/.") or path.endswith("/..")
    norm = posixpath.normpath("/" + path.lstrip("/"))
    norm = re.sub("/{2,}", "/", norm)
    if trailing and norm != "/":
        norm += "/"
    return norm + sep + query


# request headers


@builtin("http.getHeader", ctx=True)
def http_getHeader(c: RunContext, name) -> str:
    values = c.tx.request_headers.get_all(to_str(name))
    return values[0] if len(values) == 1 else ", ".join(values)


@builtin("http.getHostHeader", ctx=True)
def http_getHostHeader(c: RunContext) -> str:
    return c.tx.host_name()


@builtin("http.headerExists", ctx=True)
def http_headerExists(c: RunContext, name) -> int:
    return 1 if c.tx.request_headers.contains(to_str(name)) else 0


@builtin("http.getHeaders", ctx=True)
def http_getHeaders(c: RunContext) -> Any:
    return _header_hash(c.tx.request_headers)


def _header_hash(headers: Headers) -> dict:
    out: dict[str, str] = {}
    for name, value in headers:
        out[name] = out[name] + ", " + value if name in out else value
    return out


@builtin("http.listHeaderNames", ctx=True)
def http_listHeaderNames(c: RunContext) -> Any:
    return c.tx.request_headers.names()


@builtin("http.getHeaderNames", ctx=True)
def http_getHeaderNames(c: RunContext) -> str:
    return " ".join(c.tx.request_headers.names())


@builtin("http.setHeader", ctx=True)
def http_setHeader(c: RunContext, name, value) -> int:
    name, value = to_str(name), to_str(value)
    _check_header(name, value)
    if value == "":
        c.tx.request_headers.remove(name)
    else:
        c.tx.request_headers.set(name, value)
    _req_changed(c)
    return 1


@builtin("http.addHeader", ctx=True)
def http_addHeader(c: RunContext, name, value) -> int:
    name, value = to_str(name), to_str(value)
    _check_header(name, value)
    current = c.tx.request_headers.get(name)
    if current is None:
        c.tx.request_headers.add(name, value)
    else:
        c.tx.request_headers.set(name, current + ", " + value)
    _req_changed(c)
    return 1


@builtin("http.removeHeader", ctx=True)
def http_removeHeader(c: RunContext, name) -> int:
    if c.tx.request_headers.remove(to_str(name)):
        _req_changed(c)
    return 1


@builtin("http.scrubRequestHeaders", ctx=True)
def http_scrubRequestHeaders(c: RunContext, header1, *more) -> int:
    for name in (header1, *more):
        if c.tx.request_headers.remove(to_str(name)):
            _req_changed(c)
    return 1


# cookies


def _parse_cookie_header(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for header in values:
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            if name and sep and name not in out:
                out[name] = value.strip().strip('"') if value.startswith('"') else value.strip()
    return out


@builtin("http.getCookie", ctx=True)
def http_getCookie(c: RunContext, name) -> str:
    return _parse_cookie_header(c.tx.request_headers.get_all("Cookie")).get(to_str(name), "")


@builtin("http.cookie", ctx=True)
def http_cookie(c: RunContext, name) -> str:
    return http_getCookie(c, name)


@builtin("http.getCookies", ctx=True)
def http_getCookies(c: RunContext) -> Any:
    return _parse_cookie_header(c.tx.request_headers.get_all("Cookie"))


def _write_cookies(c: RunContext, cookies: dict[str, str]) -> None:
    c.tx.request_headers.remove("Cookie")
    if cookies:
        c.tx.request_headers.add("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
    _req_changed(c)


@builtin("http.setCookie", ctx=True)
def http_setCookie(c: RunContext, name, value) -> int:
    cookies = _parse_cookie_header(c.tx.request_headers.get_all("Cookie"))
    cookies[to_str(name)] = to_str(value)
    _write_cookies(c, cookies)
    return 1


@builtin("http.removeCookie", ctx=True)
def http_removeCookie(c: RunContext, name) -> int:
    cookies = _parse_cookie_header(c.tx.request_headers.get_all("Cookie"))
    if cookies.pop(to_str(name), None) is not None:
        _write_cookies(c, cookies)
    return 1


def _set_cookie_values(headers: Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in headers.get_all("Set-Cookie"):
        pair = value.split(";", 1)[0]
        name, sep, val = pair.strip().partition("=")
        if sep:
            out[name] = val
    return out


@builtin("http.getResponseCookie", ctx=True)
def http_getResponseCookie(c: RunContext, name) -> str:
    need_response(c, "http.getResponseCookie")
    return _set_cookie_values(c.tx.response_headers).get(to_str(name), "")


@builtin("http.getResponseCookies", ctx=True)
def http_getResponseCookies(c: RunContext) -> Any:
    need_response(c, "http.getResponseCookies")
    return _set_cookie_values(c.tx.response_headers)


@builtin("http.setResponseCookie", ctx=True)
def http_setResponseCookie(c: RunContext, name, value, options="") -> int:
    name, value, options = to_str(name), to_str(value), to_str(options).strip()
    _check_header(name, value)
    if any(ch in name for ch in "=;,") or any(ch in value for ch in ";\r\n"):
        raise RuleRuntimeError(f"invalid cookie {name!r}")
    header = f"{name}={value}" + (f"; {options.lstrip(';').strip()}" if options else "")
    _response_header_op(c, "add", "Set-Cookie", header)
    return 1


@builtin("http.removeResponseCookie", ctx=True)
def http_removeResponseCookie(c: RunContext, name) -> int:
    _response_header_op(c, "remove_cookie", to_str(name), "")
    return 1


# response headers (request rules may set them too: they are applied when the response arrives)


def _response_header_op(c: RunContext, op: str, name: str, value: str) -> None:
    tx = c.tx
    if c.phase != "response" or tx.response_headers is None:
        if tx.response is not None:
            headers = tx.response.headers
        else:
            tx.add_pending_response_header(op, name, value)
            return
    else:
        headers = tx.response_headers
        _resp_changed(c)
    if op == "set":
        headers.set(name, value)
    elif op == "add":
        headers.add(name, value)
    elif op == "remove_cookie":
        prefix = name + "="
        headers[:] = [(n, v) for n, v in headers if n.lower() != "set-cookie" or not v.startswith(prefix)]
    else:
        headers.remove(name)


@builtin("http.getResponseHeader", ctx=True)
def http_getResponseHeader(c: RunContext, name) -> str:
    need_response(c, "http.getResponseHeader")
    values = c.tx.response_headers.get_all(to_str(name))
    return values[0] if len(values) == 1 else ", ".join(values)


@builtin("http.responseHeaderExists", ctx=True)
def http_responseHeaderExists(c: RunContext, name) -> int:
    need_response(c, "http.responseHeaderExists")
    return 1 if c.tx.response_headers.contains(to_str(name)) else 0


@builtin("http.getResponseHeaders", ctx=True)
def http_getResponseHeaders(c: RunContext) -> Any:
    need_response(c, "http.getResponseHeaders")
    return _header_hash(c.tx.response_headers)


@builtin("http.listResponseHeaderNames", ctx=True)
def http_listResponseHeaderNames(c: RunContext) -> Any:
    need_response(c, "http.listResponseHeaderNames")
    return c.tx.response_headers.names()


@builtin("http.getResponseHeaderNames", ctx=True)
def http_getResponseHeaderNames(c: RunContext) -> str:
    need_response(c, "http.getResponseHeaderNames")
    return " ".join(c.tx.response_headers.names())


@builtin("http.setResponseHeader", ctx=True)
def http_setResponseHeader(c: RunContext, name, value) -> int:
    name, value = to_str(name), to_str(value)
    _check_header(name, value)
    _response_header_op(c, "set" if value else "remove", name, value)
    return 1


@builtin("http.addResponseHeader", ctx=True)
def http_addResponseHeader(c: RunContext, name, value) -> int:
    name, value = to_str(name), to_str(value)
    _check_header(name, value)
    _response_header_op(c, "add", name, value)
    return 1


@builtin("http.removeResponseHeader", ctx=True)
def http_removeResponseHeader(c: RunContext, name) -> int:
    _response_header_op(c, "remove", to_str(name), "")
    return 1


@builtin("http.scrubResponseHeaders", ctx=True)
def http_scrubResponseHeaders(c: RunContext, header1, *more) -> int:
    for name in (header1, *more):
        _response_header_op(c, "remove", to_str(name), "")
    return 1


@builtin("http.getResponseCode", ctx=True)
def http_getResponseCode(c: RunContext) -> int:
    need_response(c, "http.getResponseCode")
    return c.tx.response_status or 0


@builtin("http.setResponseCode", ctx=True)
def http_setResponseCode(c: RunContext, code, message="") -> int:
    need_response(c, "http.setResponseCode")
    status = to_int(code)
    if not 100 <= status <= 999:
        raise RuleRuntimeError(f"invalid HTTP status {to_str(code)!r}")
    c.tx.response_status = status
    c.tx.response_reason = to_str(message) or REASONS.get(status, "")
    _resp_changed(c)
    return 1


@builtin("http.getResponseVersion", ctx=True)
def http_getResponseVersion(c: RunContext) -> str:
    need_response(c, "http.getResponseVersion")
    return c.tx.response_version.removeprefix("HTTP/")


# bodies


def _limit(text: str, count: Any) -> str:
    n = to_int(count)
    return text[:n] if n > 0 else text


@builtin("http.getBody", ctx=True)
def http_getBody(c: RunContext, count=0) -> str:
    return _limit(_body(c.tx.request_body), count)


@builtin("http.getBodyLines", ctx=True)
def http_getBodyLines(c: RunContext, count=0) -> Any:
    return _lines(_limit(_body(c.tx.request_body), count))


def _lines(text: str) -> list[str]:
    return [line.rstrip("\r") for line in text.split("\n")] if text else []


@builtin("http.setBody", ctx=True)
def http_setBody(c: RunContext, body) -> int:
    data = _bytes(body)
    c.tx.request_body = data
    if c.tx.request_headers.contains("Content-Length") or data:
        c.tx.request_headers.set("Content-Length", str(len(data)))
        c.tx.request_headers.remove("Transfer-Encoding")
    _req_changed(c)
    return 1


@builtin("http.getResponseBody", ctx=True)
def http_getResponseBody(c: RunContext, count=0) -> str:
    need_response(c, "http.getResponseBody")
    return _limit(_body(c.tx.response_body), count)


@builtin("http.getResponseBodyLines", ctx=True)
def http_getResponseBodyLines(c: RunContext, count=0) -> Any:
    need_response(c, "http.getResponseBodyLines")
    return _lines(_limit(_body(c.tx.response_body), count))


@builtin("http.setResponseBody", ctx=True)
def http_setResponseBody(c: RunContext, body, transfer_encoding="") -> int:
    need_response(c, "http.setResponseBody")
    data = _bytes(body)
    c.tx.response_body = data
    c.tx.response_headers.set("Content-Length", str(len(data)))
    c.tx.response_headers.remove("Transfer-Encoding")
    c.tx.response_headers.remove("Content-Encoding")
    _resp_changed(c)
    return 1


@builtin("http.getRequest", ctx=True)
def http_getRequest(c: RunContext) -> str:
    tx = c.tx
    head = f"{tx.method} {http_getRawURL(c)} {tx.http_version}\r\n"
    return head + "".join(f"{n}: {v}\r\n" for n, v in tx.request_headers) + "\r\n" + _body(tx.request_body)


@builtin("http.getResponse", ctx=True)
def http_getResponse(c: RunContext) -> str:
    need_response(c, "http.getResponse")
    tx = c.tx
    head = f"{tx.response_version} {tx.response_status} {tx.response_reason}\r\n"
    return head + "".join(f"{n}: {v}\r\n" for n, v in tx.response_headers) + "\r\n" + _body(tx.response_body)


# form parameters


def _form_pairs(c: RunContext) -> list[tuple[str, str]]:
    tx = c.tx
    pairs = urllib.parse.parse_qsl(tx.query, keep_blank_values=True, encoding="latin-1")
    ctype = (tx.request_headers.get("Content-Type") or "").lower()
    if tx.request_body and ctype.startswith("application/x-www-form-urlencoded"):
        pairs += urllib.parse.parse_qsl(_body(tx.request_body), keep_blank_values=True, encoding="latin-1")
    return pairs


@builtin("http.getFormParam", ctx=True)
def http_getFormParam(c: RunContext, parameter, separator=None) -> str:
    name = to_str(parameter)
    values = [v for k, v in _form_pairs(c) if k == name]
    if not values:
        return ""
    return values[0] if separator is None else to_str(separator).join(values)


@builtin("http.doesFormParamExist", ctx=True)
def http_doesFormParamExist(c: RunContext, parameter) -> int:
    name = to_str(parameter)
    return 1 if any(k == name for k, _ in _form_pairs(c)) else 0


@builtin("http.getFormParams", ctx=True)
def http_getFormParams(c: RunContext) -> Any:
    out: dict[str, str] = {}
    for k, v in _form_pairs(c):
        out.setdefault(k, v)
    return out


@builtin("http.listFormParamNames", ctx=True)
def http_listFormParamNames(c: RunContext) -> Any:
    return list(dict.fromkeys(k for k, _ in _form_pairs(c)))


@builtin("http.getFormParamNames", ctx=True)
def http_getFormParamNames(c: RunContext, separator) -> str:
    return to_str(separator).join(http_listFormParamNames(c))


@builtin("http.getMultipartAttachment", ctx=True)
def http_getMultipartAttachment(c: RunContext, part) -> Any:
    ctype = c.tx.request_headers.get("Content-Type") or ""
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not m or not c.tx.request_body:
        return ""
    chunks = _body(c.tx.request_body).split("--" + m.group(1))[1:-1]
    wanted = to_str(part)
    for index, chunk in enumerate(chunks):
        head, _, content = chunk.lstrip("\r\n").partition("\r\n\r\n")
        name = re.search(r'name="([^"]*)"', head)
        if wanted == str(index) or (name and name.group(1) == wanted):
            return content.removesuffix("\r\n")
    return ""


# local responses and redirects


def _header_lines(headers: Any) -> Headers:
    out = Headers()
    if type(headers) is dict:
        for k, v in headers.items():
            out.add(k, to_str(v))
        return out
    items = headers if type(headers) is list else re.split(r"\r?\n", to_str(headers))
    for line in items:
        name, sep, value = to_str(line).partition(":")
        if sep and name.strip():
            out.add(name.strip(), value.strip())
    return out


def send_local(c: RunContext, status: int, reason: str, headers: Headers, body: bytes) -> None:
    tx = c.tx
    tx.response = LocalResponse(status, reason, headers, body)
    c.stats.responds += 1
    finish(c)


@builtin("http.sendResponse", ctx=True)
def http_sendResponse(c: RunContext, code, type_, body, headers) -> int:
    _need_http(c, "http.sendResponse")
    text = to_str(code).strip()
    m = re.match(r"(\d{3})\s*(.*)", text)
    if not m:
        raise RuleRuntimeError(f"http.sendResponse: invalid status {text!r}")
    status = int(m.group(1))
    hdrs = _header_lines(headers)
    if to_str(type_):
        hdrs.set("Content-Type", to_str(type_))
    data = _bytes(body)
    hdrs.set("Content-Length", str(len(data)))
    send_local(c, status, m.group(2) or REASONS.get(status, ""), hdrs, data)
    return 1


@builtin("http.redirect", ctx=True)
def http_redirect(c: RunContext, address) -> int:
    _need_http(c, "http.redirect")
    url = to_str(address)
    if not url or any(ch in url for ch in "\r\n"):
        raise RuleRuntimeError(f"http.redirect: invalid address {url!r}")
    body = f'<html><body>The document has moved <a href="{url}">here</a>.</body></html>'.encode("latin-1", "replace")
    headers = Headers([("Location", url), ("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    send_local(c, 302, "Found", headers, body)
    return 1


@builtin("http.changeSite", ctx=True)
def http_changeSite(c: RunContext, name) -> int:
    site = to_str(name).strip()
    if "://" in site:
        parsed = urllib.parse.urlsplit(site)
        host = parsed.netloc
        if parsed.path and parsed.path != "/":
            c.tx.path = parsed.path.rstrip("/") + c.tx.path
    else:
        host = site
    if not host or any(ch in host for ch in " \r\n/"):
        raise RuleRuntimeError(f"http.changeSite: invalid site {site!r}")
    c.tx.request_headers.set("Host", host)
    _req_changed(c)
    return 1


@builtin("http.setIdempotent", ctx=True)
def http_setIdempotent(c: RunContext, resend) -> int:
    c.tx.idempotent = bool(resend)
    return 1


# caching and compression: flags the engine honours


@builtin("http.cache.enable", ctx=True)
def http_cache_enable(c: RunContext) -> int:
    c.tx.cache = True
    return 1


@builtin("http.cache.disable", ctx=True)
def http_cache_disable(c: RunContext) -> int:
    c.tx.cache = False
    return 1


@builtin("http.cache.exists", ctx=True)
def http_cache_exists(c: RunContext, poolname="") -> int:
    return 0  # the engine has no content cache yet: nothing is ever cached


@builtin("http.cache.respondIfCached", ctx=True)
def http_cache_respondIfCached(c: RunContext, poolname="") -> int:
    return 0


@builtin("http.cache.setkey", ctx=True)
def http_cache_setkey(c: RunContext, key) -> int:
    c.tx.set_setting("cache_key", to_str(key))
    return 1


@builtin("http.compress.enable", ctx=True)
def http_compress_enable(c: RunContext) -> int:
    c.tx.compress = True
    return 1


@builtin("http.compress.disable", ctx=True)
def http_compress_disable(c: RunContext) -> int:
    c.tx.compress = False
    return 1


# outgoing HTTP requests from a rule (these block the worker; keep timeouts short)


def _outgoing(c: RunContext, method: str, url: Any, data: Any, headers: Any, timeout: Any, ca: Any = None) -> str:
    target = to_str(url)
    if not target.startswith(("http://", "https://")):
        raise RuleRuntimeError(f"http.request: only http:// and https:// URLs are supported, got {target!r}")
    seconds = to_int(timeout) / 1000 if to_int(timeout) > 0 else 30.0
    req = urllib.request.Request(target, data=None if data is None else _bytes(data), method=method)
    for name, value in _header_lines(headers):
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=seconds) as resp:  # noqa: S310 (scheme checked above)
            body, code = resp.read(), resp.status
            head = "".join(f"{k}: {v}\r\n" for k, v in resp.getheaders())
    except urllib.error.HTTPError as exc:
        body, code = exc.read(), exc.code
        head = "".join(f"{k}: {v}\r\n" for k, v in exc.headers.items())
    except (OSError, ValueError) as exc:
        c.captures = ("", "0", "", str(exc))
        return ""
    text = body.decode("latin-1")
    c.captures = (text, str(code), head, "")
    return text


@builtin("http.request.get", ctx=True)
def http_request_get(c: RunContext, url, headers="", timeout=0) -> str:
    return _outgoing(c, "GET", url, None, headers, timeout)


@builtin("http.request.head", ctx=True)
def http_request_head(c: RunContext, url, headers="", timeout=0) -> str:
    return _outgoing(c, "HEAD", url, None, headers, timeout)


@builtin("http.request.delete", ctx=True)
def http_request_delete(c: RunContext, url, headers="", timeout=0) -> str:
    return _outgoing(c, "DELETE", url, None, headers, timeout)


@builtin("http.request.post", ctx=True)
def http_request_post(c: RunContext, url, data, headers="", timeout=0) -> str:
    return _outgoing(c, "POST", url, data, headers, timeout)


@builtin("http.request.put", ctx=True)
def http_request_put(c: RunContext, url, data, headers="", timeout=0) -> str:
    return _outgoing(c, "PUT", url, data, headers, timeout)


@builtin("http.request.ssl.get", ctx=True)
def http_request_ssl_get(c: RunContext, url, ca_certificates, headers="", timeout=0) -> str:
    return _outgoing(c, "GET", url, None, headers, timeout)


# streaming a response from the rule: buffered here, the engine sends tx.response when the rule ends


@builtin("http.stream.startResponse", ctx=True)
def http_stream_startResponse(c: RunContext, resp_code, content_type, content_length=-1, headers="") -> int:
    status = to_int(resp_code)
    hdrs = _header_lines(headers)
    hdrs.set("Content-Type", to_str(content_type))
    c.tx.response = LocalResponse(status, REASONS.get(status, ""), hdrs, b"")
    c.tx.set_var("stream_length", to_int(content_length))
    c.stats.responds += 1
    return 1


def _stream(c: RunContext, fn: str) -> LocalResponse:
    if c.tx.response is None:
        raise RuleRuntimeError(f"{fn} needs http.stream.startResponse first")
    return c.tx.response


@builtin("http.stream.writeResponse", ctx=True)
def http_stream_writeResponse(c: RunContext, data) -> int:
    resp = _stream(c, "http.stream.writeResponse")
    resp.body += _bytes(data)
    return 1


@builtin("http.stream.finishResponse", ctx=True)
def http_stream_finishResponse(c: RunContext, data="") -> int:
    resp = _stream(c, "http.stream.finishResponse")
    resp.body += _bytes(data)
    resp.headers.set("Content-Length", str(len(resp.body)))
    finish(c)
    return 1


@builtin("http.stream.readResponse", ctx=True)
def http_stream_readResponse(c: RunContext, count, delimiter="") -> str:
    need_response(c, "http.stream.readResponse")
    body = _body(c.tx.response_body)
    pos = c.tx.rule_vars.get("stream_pos", 0)
    n = to_int(count)
    end = len(body) if n <= 0 else min(len(body), pos + n)
    delim = to_str(delimiter)
    if delim:
        found = body.find(delim, pos)
        if found >= 0:
            end = min(end, found + len(delim))
    c.tx.set_var("stream_pos", end)
    return body[pos:end]


@builtin("http.stream.readBulkResponse", ctx=True)
def http_stream_readBulkResponse(c: RunContext, count, delimiter="") -> str:
    return http_stream_readResponse(c, count, delimiter)


@builtin("http.stream.continueFromBackend", ctx=True)
def http_stream_continueFromBackend(c: RunContext, data="") -> int:
    need_response(c, "http.stream.continueFromBackend")
    body = _body(c.tx.response_body)
    rest = body[c.tx.rule_vars.get("stream_pos", 0) :]
    c.tx.response_body = _bytes(to_str(data) + rest)
    c.tx.response_headers.set("Content-Length", str(len(c.tx.response_body)))
    _resp_changed(c)
    finish(c)
    return 1
