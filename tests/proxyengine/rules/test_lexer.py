"""The lexer: tokens carry line and column; literals decode as TrafficScript writes them."""

from proxyengine.rules.lexer import Lexer


def kinds(src):
    return [(t.kind, t.value) for t in Lexer(src).tokens()][:-1]


def test_tokens_carry_line_and_column():
    toks = Lexer("$a = 1;\n  http.getPath();").tokens()
    assert [(t.value, t.line, t.col) for t in toks[:4]] == [("a", 1, 1), ("=", 1, 4), (1, 1, 6), (";", 1, 7)]
    assert (toks[4].value, toks[4].line, toks[4].col) == ("http", 2, 3)
    assert toks[-1].kind == "eof"


def test_numbers():
    assert kinds("12 0x1f 1.5 .5 2e3 7E-1") == [
        ("int", 12),
        ("int", 31),
        ("float", 1.5),
        ("float", 0.5),
        ("float", 2000.0),
        ("float", 0.7),
    ]


def test_strings_and_escapes():
    assert kinds(r'"a\tb\n\"q\" \x41 \d" ' + r"'it\'s'") == [("string", 'a\tb\n"q" A \\d'), ("string", "it's")]


def test_operators_longest_first():
    assert [v for _, v in kinds("<<= >>= == != <= >= && || ++ -- .= => < .")] == [
        "<<=",
        ">>=",
        "==",
        "!=",
        "<=",
        ">=",
        "&&",
        "||",
        "++",
        "--",
        ".=",
        "=>",
        "<",
        ".",
    ]


def test_keywords_names_and_variables():
    assert kinds("if foreach sub $x $1 string") == [
        ("kw", "if"),
        ("kw", "foreach"),
        ("kw", "sub"),
        ("var", "x"),
        ("var", "1"),
        ("name", "string"),
    ]


def test_comments_are_skipped_and_lines_counted():
    toks = Lexer("# c\n// d\n/* e\n f */ $x").tokens()
    assert (toks[0].value, toks[0].line, toks[0].col) == ("x", 4, 7)


def test_errors_are_collected_with_positions():
    lexer = Lexer('$ok = @;\n"open')
    lexer.tokens()
    assert [(e.message, e.line, e.col) for e in lexer.errors] == [
        ("unexpected character '@'", 1, 7),
        ("unterminated string", 2, 1),
    ]


def test_non_ascii_becomes_utf8_bytes():
    assert kinds('"é"') == [("string", "\xc3\xa9")]
