"""Turns TrafficScript source into tokens, each carrying the line and column it starts at."""

from __future__ import annotations

from dataclasses import dataclass

KEYWORDS = frozenset(
    "if else while do for foreach in break continue return sub import as switch case default true false nil print".split()
)

# Longest first, so that "<<=" wins over "<<" and "<".
OPERATORS = sorted(
    """<<= >>= == != <= >= && || ++ -- += -= *= /= %= .= &= |= ^= << >> => ; , ( ) [ ] { } ? : = < > + - * / % . ! ~ & | ^""".split(),
    key=len,
    reverse=True,
)

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "$": "$", "0": "\0", "a": "\a", "e": "\x1b"}


@dataclass(frozen=True, slots=True)
class Token:
    """One lexeme: ``kind`` is "name", "var", "string", "int", "float", "op", "kw" or "eof"."""

    kind: str
    value: str | int | float
    line: int
    col: int

    def describe(self) -> str:
        if self.kind == "eof":
            return "end of rule"
        if self.kind == "string":
            return "a string"
        if self.kind == "var":
            return f"'${self.value}'"
        return f"'{self.value}'"


class LexError(Exception):
    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


def _is_word(ch: str) -> bool:
    return ch == "_" or (ch.isascii() and ch.isalnum())


def _as_bytes_text(text: str) -> str:
    # TrafficScript strings are bytes: a non-ASCII character in the source counts as its UTF-8 bytes.
    return text if text.isascii() else text.encode("utf-8").decode("latin-1")


class Lexer:
    """Scans the whole source up front; ``errors`` collects bad characters and unterminated strings."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.errors: list[LexError] = []

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        while True:
            tok = self._next()
            if tok is not None:
                out.append(tok)
                if tok.kind == "eof":
                    return out

    def _col(self, pos: int | None = None) -> int:
        return (self.pos if pos is None else pos) - self.line_start + 1

    def _newline(self, pos: int) -> None:
        self.line += 1
        self.line_start = pos + 1

    def _next(self) -> Token | None:
        src, n = self.src, len(self.src)
        while self.pos < n:
            ch = src[self.pos]
            if ch == "\n":
                self._newline(self.pos)
                self.pos += 1
            elif ch in " \t\r\f\v":
                self.pos += 1
            elif ch == "#" or src.startswith("//", self.pos):
                end = src.find("\n", self.pos)
                self.pos = n if end < 0 else end
            elif src.startswith("/*", self.pos):
                end = src.find("*/", self.pos + 2)
                stop = n if end < 0 else end + 2
                if end < 0:
                    self.errors.append(LexError("unterminated comment", self.line, self._col()))
                for i in range(self.pos, stop):
                    if src[i] == "\n":
                        self._newline(i)
                self.pos = stop
            else:
                break
        if self.pos >= n:
            return Token("eof", "", self.line, self._col())
        line, col = self.line, self._col()
        ch = src[self.pos]
        if ch == "$":
            return self._variable(line, col)
        if (ch.isascii() and ch.isalpha()) or ch == "_":
            start = self.pos
            while self.pos < n and _is_word(src[self.pos]):
                self.pos += 1
            word = src[start : self.pos]
            return Token("kw" if word in KEYWORDS else "name", word, line, col)
        if ch in "0123456789" or (ch == "." and self.pos + 1 < n and src[self.pos + 1] in "0123456789"):
            return self._number(line, col)
        if ch in "\"'":
            return self._string(ch, line, col)
        for op in OPERATORS:
            if src.startswith(op, self.pos):
                self.pos += len(op)
                return Token("op", op, line, col)
        self.errors.append(LexError(f"unexpected character {ch!r}", line, col))
        self.pos += 1
        return None

    def _variable(self, line: int, col: int) -> Token | None:
        src, n = self.src, len(self.src)
        start = self.pos + 1
        end = start
        while end < n and _is_word(src[end]):
            end += 1
        self.pos = end
        name = src[start:end]
        if not name:
            self.errors.append(LexError("expected a variable name after '$'", line, col))
            return None
        return Token("var", name, line, col)

    def _number(self, line: int, col: int) -> Token:
        src, n = self.src, len(self.src)
        start = self.pos
        if src.startswith(("0x", "0X"), start):
            end = start + 2
            while end < n and src[end] in "0123456789abcdefABCDEF":
                end += 1
            self.pos = end
            if end == start + 2:
                self.errors.append(LexError("malformed hexadecimal number", line, col))
                return Token("int", 0, line, col)
            return Token("int", int(src[start + 2 : end], 16), line, col)
        end = start
        while end < n and src[end] in "0123456789":
            end += 1
        is_float = False
        if end < n and src[end] == "." and end + 1 < n and src[end + 1] in "0123456789":
            is_float = True
            end += 1
            while end < n and src[end] in "0123456789":
                end += 1
        if end < n and src[end] in "eE":
            exp = end + 1
            if exp < n and src[exp] in "+-":
                exp += 1
            if exp < n and src[exp] in "0123456789":
                is_float = True
                end = exp
                while end < n and src[end] in "0123456789":
                    end += 1
        self.pos = end
        text = src[start:end]
        return Token("float", float(text), line, col) if is_float else Token("int", int(text), line, col)

    def _string(self, quote: str, line: int, col: int) -> Token:
        src, n = self.src, len(self.src)
        i = self.pos + 1
        parts: list[str] = []
        while True:
            if i >= n:
                self.errors.append(LexError("unterminated string", line, col))
                break
            ch = src[i]
            if ch == quote:
                i += 1
                break
            if ch == "\\" and i + 1 < n:
                nxt = src[i + 1]
                if nxt == "x" and i + 3 < n + 1 and all(c in "0123456789abcdefABCDEF" for c in src[i + 2 : i + 4]):
                    parts.append(chr(int(src[i + 2 : i + 4], 16)))
                    i += 4
                    continue
                if nxt in ESCAPES:
                    parts.append(ESCAPES[nxt])
                    i += 2
                    continue
                parts.append("\\" + nxt)  # unknown escapes stay as written, like regex "\d"
                i += 2
                continue
            if ch == "\n":
                self._newline(i)
            parts.append(_as_bytes_text(ch))
            i += 1
        self.pos = i
        return Token("string", "".join(parts), line, col)
