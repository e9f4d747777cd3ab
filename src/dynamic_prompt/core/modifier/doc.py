"""A prompt's text as a list of lines that joins back byte for byte.

Edits work on lines, so the text is split once per :func:`apply_edits` call
and joined once at the end. Lines are split on ``\\n`` only and keep any
``\\r`` they end with: an untouched line is therefore returned exactly as it
came in, whatever mix of line endings the prompt has. Lines an edit adds use
the prompt's dominant ending, and the presence or absence of a final newline
is kept.
"""

from __future__ import annotations

from collections.abc import Sequence


class Lines:
    """The lines of a prompt, edited in place and joined back with :meth:`text`."""

    __slots__ = ("_lines", "_text", "crlf", "trailing")

    def __init__(self, text: str) -> None:
        self.trailing = text.endswith("\n")
        # A prompt that mostly uses \r\n gets \r\n on the lines we add too.
        self.crlf = text.count("\r\n") * 2 > text.count("\n")
        body = text[:-1] if self.trailing else text
        self._lines: list[str] = body.split("\n") if text else []
        self._text: str | None = text

    def __len__(self) -> int:
        return len(self._lines)

    def raw(self, index: int) -> str:
        """Line ``index`` as stored, with its ``\\r`` if it has one."""
        return self._lines[index]

    def content(self, index: int) -> str:
        """Line ``index`` without its line ending."""
        line = self._lines[index]
        return line.removesuffix("\r")

    def raw_lines(self) -> list[str]:
        """The stored lines (do not mutate)."""
        return self._lines

    def text(self) -> str:
        """The whole prompt; cached until the next change."""
        if self._text is None:
            joined = "\n".join(self._lines)
            self._text = joined + "\n" if self.trailing and self._lines else joined
        return self._text

    def set(self, index: int, content: str) -> None:
        """Replace the content of line ``index``, keeping its own line ending."""
        old = self._lines[index]
        self._lines[index] = content + "\r" if old.endswith("\r") else content
        self._text = None

    def insert(self, index: int, contents: Sequence[str]) -> None:
        """Insert lines (given without endings) before line ``index``."""
        if not contents:
            return
        cr = "\r" if self.crlf else ""
        new = [c + cr for c in contents]
        n = len(self._lines)
        if index >= n and not self.trailing:
            # Appending to a text without a final newline: the old last line now
            # needs an ending, and the new last line must not get one.
            if n and self.crlf and not self._lines[-1].endswith("\r"):
                self._lines[-1] += "\r"
            new[-1] = contents[-1]
            index = n
        self._lines[index:index] = new
        self._normalize()

    def delete(self, start: int, stop: int) -> None:
        """Delete lines ``start`` up to (not including) ``stop``."""
        at_end = stop >= len(self._lines)
        del self._lines[start:stop]
        if at_end and not self.trailing and self._lines and self.crlf:
            # The new last line lost the line that followed it: no ending now.
            last = self._lines[-1]
            if last.endswith("\r"):
                self._lines[-1] = last[:-1]
        self._normalize()

    def _normalize(self) -> None:
        """Keep one representation per text, so edits in one call or in several agree.

        ``["a", ""]`` without a final newline is the text ``"a\n"``, which
        reads back as ``["a"]`` with one; and no lines means no final newline.
        """
        if not self.trailing and self._lines and self._lines[-1] == "":
            self._lines.pop()
            self.trailing = True
        if not self._lines:
            self.trailing = False
        self._text = None
