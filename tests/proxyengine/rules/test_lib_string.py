"""string.*: every function, with the documented edge cases (offsets, negative indexes, regex flags)."""

import pytest
from ts_helpers import logs, value

CASES = [
    ('string.len("abc")', "3"),
    ('string.length("")', "0"),
    ('string.append("a", 1, "b")', '"a1b"'),
    ('string.lowercase("AbC")', '"abc"'),
    ('string.uppercase("AbC")', '"ABC"'),
    ('string.trim("  a b \\t\\n")', '"a b"'),
    ('string.reverse("abc")', '"cba"'),
    ('string.left("hello", 2)', '"he"'),
    ('string.left("hello", 10)', '"hello"'),
    ('string.left("hello", -1)', '""'),
    ('string.right("hello", 3)', '"llo"'),
    ('string.right("hello", 0)', '""'),
    ('string.skip("hello", 2)', '"llo"'),
    ('string.drop("hello", 2)', '"hel"'),
    ('string.drop("hello", 9)', '""'),
    ('string.substring("hello", 1, 3)', '"ell"'),
    ('string.substring("hello", 0, -1)', '"hello"'),
    ('string.substring("hello", -3, -2)', '"ll"'),
    ('string.substring("hello", 3, 1)', '""'),
    ('string.substring("hello", 2, 99)', '"llo"'),
    ('string.find("hello", "l")', "2"),
    ('string.find("hello", "l", 3)', "3"),
    ('string.find("hello", "z")', "-1"),
    ('string.find("hello", "o", -2)', "4"),
    ('string.findI("HeLLo", "ll")', "2"),
    ('string.findr("hello", "l")', "3"),
    ('string.findr("hello", "l", 2)', "2"),
    ('string.count("banana", "a")', "3"),
    ('string.count("banana", "a", 2)', "2"),
    ('string.count("banana", "")', "0"),
    ('string.contains("banana", "nan")', "1"),
    ('string.containsI("BANANA", "nan")', "1"),
    ('string.startsWith("/api/x", "/api")', "1"),
    ('string.startsWithI("/API/x", "/api")', "1"),
    ('string.endsWith("a.jpg", ".jpg")', "1"),
    ('string.endsWithI("a.JPG", ".jpg")', "1"),
    ('string.endsWith("a.jpg", ".png")', "0"),
    ('string.cmp("a", "b")', "-1"),
    ('string.cmp("b", "b")', "0"),
    ('string.icmp("B", "a")', "1"),
    ('string.replace("aaa", "a", "b")', '"baa"'),
    ('string.replaceAll("aaa", "a", "b")', '"bbb"'),
    ('string.replaceI("AaA", "a", "b")', '"baA"'),
    ('string.replaceAllI("AaA", "a", "b")', '"bbb"'),
    ('string.Ireplace("XyX", "x", "z")', '"zyX"'),
    ('string.IreplaceAll("XyX", "x", "z")', '"zyz"'),
    ('string.replace("abc", "", "z")', '"abc"'),
    ('string.replaceBytes("hello", "XY", 1)', '"hXYlo"'),
    ('string.insertBytes("hello", "XY", 1)', '"hXYello"'),
    ('string.split("a,b,,c", ",")', '[ "a", "b", "", "c" ]'),
    ('string.split("a b")', '[ "a", "b" ]'),
    ('string.split("", ",")', "[  ]"),
    ('string.sprintf("%s-%05d-%.2f-%x-%%", "a", 42, 3.14159, 255)', '"a-00042-3.14-ff-%"'),
    ('string.sprintf("%-3s|%c", "a", 65)', '"a  |A"'),
    ('string.regexsub("a1b22", "\\\\d+", "#")', '"a#b22"'),
    ('string.regexsub("a1b22", "\\\\d+", "#", "g")', '"a#b#"'),
    ('string.regexsub("John Smith", "(\\\\w+) (\\\\w+)", "$2, $1")', '"Smith, John"'),
    ('string.regexsub("ABC", "b", "x", "gi")', '"AxC"'),
    ('string.regexescape("a.b*c")', '"a\\\\.b\\\\*c"'),
    ('string.wildmatch("www.example.com", "*.example.com")', "1"),
    ('string.wildmatch("example.com", "*.example.com")', "0"),
    ('string.wildmatch("a1", "a?")', "1"),
    ('string.wildmatch("a[1]", "a[1]")', "1"),
    ('string.base64encode("hello")', '"aGVsbG8="'),
    ('string.base64decode("aGVsbG8=")', '"hello"'),
    ('string.base64decode("aGVsbG8")', '"hello"'),
    ('string.hexencode("AB")', '"4142"'),
    ('string.hexdecode("4142")', '"AB"'),
    ('string.hexdecode("zz")', '""'),
    ('string.hexToInt("ff")', "255"),
    ('string.hexToInt("0x10")', "16"),
    ("string.intToHex(255)", '"ff"'),
    ('string.urlencode("a b/c&d")', '"a%20b%2Fc%26d"'),
    ('string.urlencodeexceptreserved("a b/c&d")', '"a%20b/c&d"'),
    ('string.unescape("a%20b%2f")', '"a b/"'),
    ('string.escape("a\\nb%")', '"a%0Ab%25"'),
    ('string.htmlencode("<a href=\\"x\\">&\'")', '"&lt;a href=&quot;x&quot;&gt;&amp;&#39;"'),
    ('string.htmldecode("&lt;b&gt;&amp;&#65;")', '"<b>&A"'),
    ('string.hash("abc")', "891568578"),
    ('string.hexencode(string.hashMD5("abc"))', '"900150983cd24fb0d6963f7d28e17f72"'),
    ('string.hexencode(string.hashSHA1("abc"))', '"a9993e364706816aba3e25717850c26c9cd0d89d"'),
    ('string.length(string.hashSHA256("abc"))', "32"),
    ('string.length(string.hashSHA384("abc"))', "48"),
    ('string.length(string.hashSHA512("abc"))', "64"),
    ('string.decrypt(string.encrypt("secret", "k"), "k")', '"secret"'),
    ('string.decrypt(string.encrypt("secret", "k"), "wrong")', '""'),
    ("string.length(string.randomBytes(16))", "16"),
    ('string.bytesToInt("\\x01\\x00")', "256"),
    ("string.hexencode(string.intToBytes(258, 2))", '"0102"'),
    ("string.hexencode(string.intToBytes(1))", '"00000001"'),
    ("string.BERToInt(string.intToBER(300))", "300"),
    ("string.hexencode(string.intToBER(300))", '"822c"'),
    ('string.bytesToDotted(string.dottedToBytes("10.1.2.3"))', '"10.1.2.3"'),
    ('string.length(string.dottedToBytes("::1"))', "16"),
    ('string.validIPAddress("10.0.0.1")', "4"),
    ('string.validIPAddress("::1")', "6"),
    ('string.validIPAddress("10.0.0.256")', "0"),
    ('string.normalizeIPAddress("2001:DB8:0:0::1")', '"2001:db8::1"'),
    ('string.ipmaskmatch("10.1.2.3", "10.0.0.0/8")', "1"),
    ('string.ipmaskmatch("10.1.2.3", "10.1.2.0/255.255.255.0")', "1"),
    ('string.ipmaskmatch("11.1.2.3", "10.0.0.0/8")', "0"),
    ('string.ipmaskmatch("10.1.2.3", "10.1.2.3")', "1"),
    ('string.ipmaskmatch("2001:db8::5", "2001:db8::/32")', "1"),
    ('string.ipmaskmatch("bad", "10.0.0.0/8")', "0"),
    ('string.extractHost("www.example.com:8080")', '"www.example.com"'),
    ('string.extractPort("www.example.com:8080")', "8080"),
    ('string.extractHost("[::1]:80")', '"::1"'),
    ('string.extractPort("[::1]:80")', "80"),
    ('string.extractPort("example.com")', '""'),
    ('string.gmtime.parse("Sun, 06 Nov 1994 08:49:37 GMT")', "784111777"),
    ('string.gmtime.parse("1994-11-06T08:49:37Z")', "784111777"),
    ('string.gmtime.parse("garbage")', "0"),
]


@pytest.mark.parametrize(("expr", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_string_function(expr, expected):
    assert value(expr) == expected


def test_regexmatch_sets_captures_and_flags():
    src = r"""
    if (string.regexmatch("Hello World", "^hello (\\w+)$", "i")) { log.info($1); }
    if (!string.regexmatch("Hello", "^hello$")) { log.info("case sensitive"); }
    if (string.regexmatch("a\nb", "^b$", "m")) { log.info("multiline"); }
    """
    assert logs(src) == ["World", "case sensitive", "multiline"]


def test_failed_match_keeps_previous_captures():
    src = r"""
    string.regexmatch("abc", "(b)");
    string.regexmatch("xyz", "(q)");
    log.info($1);
    """
    assert logs(src) == ["b"]


def test_bad_regex_aborts_the_rule():
    from ts_helpers import make_tx

    from proxyengine.rules import EngineState, compile_rule

    tx = make_tx()
    compile_rule("r", 'string.regexmatch("a", "(");').run(tx, EngineState())
    assert "bad regular expression" in tx.errors[0].message
