"""http.*: reading and rewriting requests and responses, local responses, redirects, cookies, forms."""

import pytest
from ts_helpers import logs, make_tx, run

from proxyengine.rules import EngineState, compile_rule


def req(**kw):
    kw.setdefault(
        "headers", [("Host", "WWW.Example.com:8080"), ("Cookie", "a=1; sess=xyz"), ("X-Multi", "1"), ("x-multi", "2")]
    )
    kw.setdefault("path", "/a%20b/c")
    kw.setdefault("query", "q=1&r=two&q=3")
    return make_tx(**kw)


def resp_tx(status=200, headers=None, body=b"hello"):
    headers = headers if headers is not None else [("Content-Type", "text/html"), ("Set-Cookie", "sid=1; Path=/")]
    return make_tx(response=(status, headers, body))


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("http.getMethod()", "GET"),
        ("http.getPath()", "/a b/c"),
        ("http.getRawURL()", "/a%20b/c?q=1&r=two&q=3"),
        ("http.getQueryString()", "q=1&r=two&q=3"),
        ("http.getRawQueryString()", "q=1&r=two&q=3"),
        ("http.getVersion()", "1.1"),
        ('http.getHeader("host")', "WWW.Example.com:8080"),
        ('http.getHeader("X-Multi")', "1, 2"),
        ('http.getHeader("Missing")', ""),
        ("http.getHostHeader()", "www.example.com"),
        ('http.headerExists("COOKIE")', "1"),
        ('http.headerExists("nope")', "0"),
        ('array.join(http.listHeaderNames(), ",")', "Host,Cookie,X-Multi"),
        ("http.getHeaderNames()", "Host Cookie X-Multi"),
        (
            "lang.dump(http.getHeaders())",
            '[ "Host" => "WWW.Example.com:8080", "Cookie" => "a=1; sess=xyz", "X-Multi" => "1", "x-multi" => "2" ]',
        ),
        ('http.getCookie("sess")', "xyz"),
        ('http.cookie("a")', "1"),
        ('http.getCookie("none")', ""),
        ("lang.dump(http.getCookies())", '[ "a" => "1", "sess" => "xyz" ]'),
        ('http.getFormParam("q")', "1"),
        ('http.getFormParam("q", ",")', "1,3"),
        ('http.doesFormParamExist("r")', "1"),
        ('http.doesFormParamExist("z")', "0"),
        ('array.join(http.listFormParamNames(), ",")', "q,r"),
        ('http.getFormParamNames(":")', "q:r"),
        ("lang.dump(http.getFormParams())", '[ "q" => "1", "r" => "two" ]'),
        ('http.normalizePath("/a//b/../c/./d/")', "/a/c/d/"),
        ('http.normalizePath("/../x?y=1")', "/x?y=1"),
        ('string.startsWith(http.getRequest(), "GET /a%20b/c?q=1&r=two&q=3 HTTP/1.1\\r\\nHost:")', "1"),
    ],
)
def test_request_readers(expr, expected):
    assert logs(f"log.info({expr});", req()) == [expected]


def test_header_rewrites_mark_the_request_changed():
    tx, _ = run(
        """
        http.setHeader("X-Forwarded-For", request.getRemoteIP());
        http.addHeader("X-Multi", "3");
        http.removeHeader("Cookie");
        http.setHeader("X-Empty", "");
        http.scrubRequestHeaders("Nope", "x-multi");
        """,
        req(),
    )
    assert list(tx.request_headers) == [("Host", "WWW.Example.com:8080"), ("X-Forwarded-For", "192.0.2.10")]
    assert tx.request_changed


def test_add_header_appends_to_an_existing_value():
    tx, _ = run('http.addHeader("X-A", "1"); http.addHeader("X-A", "2");', req(headers=[]))
    assert tx.request_headers.get("x-a") == "1, 2"


def test_path_query_method_rewrites():
    tx, _ = run('http.setPath("/new path/é"); http.setQueryString("?x=1"); http.setMethod("POST");', req())
    assert (tx.path, tx.query, tx.method) == ("/new%20path/%C3%A9", "x=1", "POST")
    tx, _ = run('http.setRawPath("/raw%2F?k=v");', req())
    assert (tx.path, tx.query) == ("/raw%2F", "k=v")
    tx, _ = run('http.setRawQueryString("a=%20");', req())
    assert tx.query == "a=%20"


def test_invalid_rewrites_abort():
    for src in ['http.setPath("relative");', 'http.setHeader("Bad Name", "v");', 'http.setHeader("X", "a\\r\\nb");']:
        tx = req()
        compile_rule("r", src).run(tx, EngineState())
        assert tx.errors, src


def test_cookies_are_rewritten_in_the_cookie_header():
    tx, _ = run('http.setCookie("a", "2"); http.setCookie("new", "v"); http.removeCookie("sess");', req())
    assert tx.request_headers.get("Cookie") == "a=2; new=v"


def test_request_body_and_form_post():
    body = b"user=bob&pw=secret"
    tx = make_tx(method="POST", headers=[("Content-Type", "application/x-www-form-urlencoded")], body=body)
    assert logs('log.info(http.getBody()); log.info(http.getBody(4)); log.info(http.getFormParam("pw"));', tx) == [
        "user=bob&pw=secret",
        "user",
        "secret",
    ]
    tx, _ = run('http.setBody("new");', make_tx(method="POST", body=b"old"))
    assert tx.request_body == b"new" and tx.request_headers.get("Content-Length") == "3"
    assert logs("log.info(array.length(http.getBodyLines()));", make_tx(body=b"a\r\nb\nc")) == ["3"]
    assert compile_rule("r", "http.getBody();").needs_request_body
    assert not compile_rule("r", "http.getPath();").needs_request_body


def test_multipart_attachment():
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="f"\r\n\r\nfirst\r\n'
        b'--XX\r\nContent-Disposition: form-data; name="g"\r\n\r\nsecond\r\n--XX--\r\n'
    )
    tx = make_tx(method="POST", headers=[("Content-Type", "multipart/form-data; boundary=XX")], body=body)
    assert logs('log.info(http.getMultipartAttachment("g")); log.info(http.getMultipartAttachment("0"));', tx) == [
        "second",
        "first",
    ]


def test_send_response_ends_the_rule_and_all_rules():
    tx = make_tx()
    state = EngineState()
    compile_rule(
        "maint", 'http.sendResponse("503 Down", "text/plain", "later", "Retry-After: 60"); log.info("x");'
    ).run(tx, state)
    assert tx.response.status == 503 and tx.response.reason == "Down" and tx.response.body == b"later"
    assert tx.response.headers.get("Retry-After") == "60" and tx.response.headers.get("Content-Type") == "text/plain"
    assert tx.finished and not tx.logs
    assert state.rule_stats["maint"].responds == 1


def test_send_response_accepts_a_number_and_a_hash_of_headers():
    tx, _ = run('http.sendResponse(200, "application/json", "{}", ["X-A" => "1"]);')
    assert tx.response.status == 200 and tx.response.reason == "OK" and tx.response.headers.get("X-A") == "1"


def test_redirect():
    tx, _ = run('http.redirect("https://" . http.getHostHeader() . http.getPath());', req())
    assert tx.response.status == 302 and tx.response.headers.get("Location") == "https://www.example.com/a b/c"
    assert tx.finished


def test_change_site():
    tx, _ = run('http.changeSite("new.example.com");', req())
    assert tx.request_headers.get("Host") == "new.example.com"
    tx, _ = run('http.changeSite("http://other.example.com:81/");', req())
    assert tx.request_headers.get("Host") == "other.example.com:81"


def test_response_readers_and_writers():
    tx = resp_tx()
    src = """
    log.info(http.getResponseCode()); log.info(http.getResponseHeader("content-type"));
    log.info(http.responseHeaderExists("Set-Cookie")); log.info(http.getResponseCookie("sid"));
    log.info(http.getResponseBody()); log.info(http.getResponseVersion());
    log.info(array.join(http.listResponseHeaderNames(), ","));
    http.setResponseHeader("X-Served-By", "tm1");
    http.addResponseHeader("Vary", "Accept");
    http.removeResponseHeader("Set-Cookie");
    http.setResponseCode(404);
    http.setResponseBody("gone");
    """
    tx, _ = run(src, tx, phase="response")
    assert [m for _, _, m in tx.logs] == ["200", "text/html", "1", "1", "hello", "1.1", "Content-Type,Set-Cookie"]
    assert tx.response_status == 404 and tx.response_reason == "Not Found"
    assert tx.response_body == b"gone" and tx.response_headers.get("Content-Length") == "4"
    assert tx.response_headers.get("X-Served-By") == "tm1" and not tx.response_headers.contains("Set-Cookie")
    assert tx.response_changed


def test_response_cookies():
    tx, _ = run(
        'http.setResponseCookie("a", "1", "Path=/; HttpOnly"); http.removeResponseCookie("sid");',
        resp_tx(),
        phase="response",
    )
    assert tx.response_headers.get_all("Set-Cookie") == ["a=1; Path=/; HttpOnly"]
    assert logs("log.info(lang.dump(http.getResponseCookies()));", resp_tx(), phase="response") == ['[ "sid" => "1" ]']


def test_response_header_edits_in_a_request_rule_wait_for_the_response():
    tx, _ = run('http.setResponseHeader("X-A", "1"); http.setResponseCookie("s", "v");')
    from proxyengine.rules import Headers

    headers = Headers([("X-A", "old")])
    tx.apply_pending_response_headers(headers)
    assert list(headers) == [("X-A", "1"), ("Set-Cookie", "s=v")]


def test_response_functions_in_a_request_rule_abort():
    tx = make_tx()
    compile_rule("r", "http.getResponseCode();").run(tx, EngineState())
    assert "only be used in a response rule" in tx.errors[0].message


def test_get_response_text():
    assert logs("log.info(http.getResponse());", resp_tx(headers=[("A", "b")]), phase="response") == [
        "HTTP/1.1 200 OK\r\nA: b\r\n\r\nhello"
    ]


def test_cache_and_compress_flags():
    tx, _ = run('http.cache.disable(); http.compress.enable(); http.cache.setkey("k"); log.info(http.cache.exists());')
    assert tx.cache is False and tx.compress is True and tx.settings["cache_key"] == "k"
    tx, _ = run("http.cache.enable(); http.compress.disable(); http.cache.respondIfCached();")
    assert tx.cache is True and tx.compress is False


def test_stream_response_from_a_rule():
    tx, _ = run(
        'http.stream.startResponse(200, "text/plain"); http.stream.writeResponse("a"); '
        'http.stream.finishResponse("b"); log.info("not reached");'
    )
    assert tx.response.body == b"ab" and tx.response.headers.get("Content-Length") == "2" and not tx.logs


def test_stream_read_response_and_continue():
    tx, _ = run(
        'log.info(http.stream.readResponse(2)); log.info(http.stream.readBulkResponse(0, "l")); '
        'http.stream.continueFromBackend("X");',
        resp_tx(body=b"hello world"),
        phase="response",
    )
    assert [m for _, _, m in tx.logs] == ["he", "l"]
    assert tx.response_body == b"Xlo world"


def test_outgoing_request_rejects_other_schemes():
    tx = make_tx()
    compile_rule("r", 'http.request.get("file:///etc/passwd");').run(tx, EngineState())
    assert "only http:// and https://" in tx.errors[0].message


def test_outgoing_request_failure_returns_empty():
    assert logs('log.info("[" . http.request.get("http://127.0.0.1:9/", "", 200) . "]" . $1);') == ["[]0"]


def test_set_idempotent():
    tx, _ = run("http.setIdempotent(0);")
    assert tx.idempotent is False


def test_http_functions_on_a_generic_virtual_server():
    tx = make_tx(protocol="generic")
    compile_rule("r", 'http.sendResponse("200", "text/plain", "", "");').run(tx, EngineState())
    assert "HTTP virtual server" in tx.errors[0].message
