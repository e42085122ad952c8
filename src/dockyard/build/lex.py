"""Variable expansion and word splitting, as BuildKit's ``shell.Lex`` does them.

``expand(word, env)`` returns one word with quotes removed and ``$VAR``,
``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:+alt}``,
``${VAR+alt}`` and ``${VAR:?message}`` substituted; ``split(words, env)``
also splits on unquoted blanks (ENV/LABEL/EXPOSE/VOLUME use it). Inside
single quotes nothing is special; inside double quotes only ``$`` and the
escape character (``\\`` or the ``# escape`` directive's) are. ``used``
collects every variable name looked up, for the unused build-arg warning.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import BuildError


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str], escape: str, used: set[str] | None) -> None:
        self.s = text
        self.i = 0
        self.env = env
        self.esc = escape
        self.used = used

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def take(self) -> str:
        c = self.peek()
        self.i += 1
        return c

    def words(self, split: bool, stop: str = "") -> list[str]:
        """Words up to the end (or an unquoted ``stop`` char, for ``${…}`` bodies)."""
        out: list[str] = []
        cur: list[str] = []
        started = False
        while self.i < len(self.s):
            c = self.peek()
            if stop and c == stop:
                break
            if split and c in " \t\r\n":
                self.i += 1
                if started:
                    out.append("".join(cur))
                    cur, started = [], False
                continue
            started = True
            if c == self.esc:
                self.i += 1
                nxt = self.take()
                cur.append(nxt)  # a trailing escape char is dropped, as BuildKit does
            elif c == "'":
                self.i += 1
                end = self.s.find("'", self.i)
                if end < 0:
                    raise BuildError(f"unexpected end of statement while looking for matching single-quote in {self.s!r}")
                cur.append(self.s[self.i:end])
                self.i = end + 1
            elif c == '"':
                self.i += 1
                cur.append(self._double())
            elif c == "$":
                self.i += 1
                cur.append(self._dollar())
            else:
                self.i += 1
                cur.append(c)
        if started:
            out.append("".join(cur))
        return out

    def _double(self) -> str:
        buf: list[str] = []
        while True:
            if self.i >= len(self.s):
                raise BuildError(f"unexpected end of statement while looking for matching double-quote in {self.s!r}")
            c = self.take()
            if c == '"':
                return "".join(buf)
            if c == "$":
                buf.append(self._dollar())
            elif c == self.esc and self.peek() in ('"', "$", self.esc):
                buf.append(self.take())
            else:
                buf.append(c)

    def _name(self) -> str:
        start = self.i
        while self.i < len(self.s) and (self.s[self.i].isalnum() or self.s[self.i] == "_"):
            self.i += 1
        return self.s[start:self.i]

    def _lookup(self, name: str) -> str | None:
        if self.used is not None:
            self.used.add(name)
        return self.env.get(name)

    def _dollar(self) -> str:
        c = self.peek()
        if c == "{":
            self.i += 1
            name = self._name()
            if not name:
                raise BuildError(f"bad substitution in {self.s!r}")
            op = self.peek()
            if op == "}":
                self.i += 1
                return self._lookup(name) or ""
            colon = op == ":"
            if colon:
                self.i += 1
                op = self.peek()
            if op not in ("-", "+", "?"):
                raise BuildError(f"unsupported modifier ({op!r}) in substitution {self.s!r}")
            self.i += 1
            word = "".join(self.words(False, stop="}"))
            if self.take() != "}":
                raise BuildError(f"syntax error: missing '}}' in {self.s!r}")
            value = self._lookup(name)
            is_set = value is not None and (value != "" or not colon)
            if op == "-":
                return value if is_set and value is not None else word
            if op == "+":
                return word if is_set else ""
            if not is_set:
                raise BuildError(f"{name}: {word or 'is not allowed to be unset'}")
            return value or ""
        name = self._name()
        if not name:
            return "$"
        return self._lookup(name) or ""


def expand(word: str, env: Mapping[str, str], *, escape: str = "\\", used: set[str] | None = None) -> str:
    """One word: variables substituted, quotes and escapes removed."""
    return "".join(_Lexer(word, env, escape, used).words(False))


def split(text: str, env: Mapping[str, str], *, escape: str = "\\", used: set[str] | None = None) -> list[str]:
    """Words: like ``expand`` but split on unquoted blanks."""
    return _Lexer(text, env, escape, used).words(True)
