"""The status bar: server (masked), feed mode, prompt, version, size, token estimate."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from dynamic_prompt.tui.render import human_size, safe

MODE_LABELS = {
    "notifications": "● live: notifications",
    "tracking": "● live: client tracking",
    "channel": "● live: change channel",
    "polling": "◐ live: polling",
    "disconnected": "○ disconnected",
}


class StatusBar(Static):
    """One line; every field is a reactive the screen sets."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $foreground; padding: 0 1; }
    """

    server: reactive[str] = reactive("")
    mode: reactive[str] = reactive("disconnected")
    prompt_name: reactive[str] = reactive("")
    version: reactive[int] = reactive(0)
    size_bytes: reactive[int] = reactive(0)
    tokens: reactive[int] = reactive(0)
    note: reactive[str] = reactive("")

    def render(self) -> Text:
        """The line, built from text pieces (never markup)."""
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(safe(self.server), "bold")
        text.append("  ")
        mode_style = "bold red" if self.mode == "disconnected" else "green"
        text.append(MODE_LABELS.get(self.mode, self.mode), mode_style)
        text.append("  │  ")
        text.append(safe(self.prompt_name) or "-", "bold")
        text.append(f"  v{self.version}" if self.version else "  (no text)")
        text.append(f"  {human_size(self.size_bytes)}  ~{self.tokens:,} tokens")
        if self.note:
            text.append("  │  " + safe(self.note), "italic")
        return text
