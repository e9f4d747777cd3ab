"""The status bar: read-only, feed mode, prompt, version, size, token estimate, note, server (masked)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from dynamic_prompt.core.models import FeedMode, PromptState
from dynamic_prompt.core.text import estimate_tokens
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
    read_only: reactive[bool] = reactive(False)

    def show_state(self, state: PromptState) -> None:
        """The prompt's name, version, size and token estimate."""
        text = state.active or ""
        self.prompt_name = state.name
        self.version = state.version
        self.size_bytes = len(text.encode("utf-8", "replace"))
        self.tokens = estimate_tokens(text)

    def render(self) -> Text:
        """The line, built from text pieces (never markup)."""
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.read_only:
            text.append("READ-ONLY", "bold reverse red")
            text.append("  ")
        # What matters at a glance comes first: on a narrow terminal the server's
        # address (often a long socket path) is what the ellipsis cuts.
        mode_style = "bold red" if self.mode == FeedMode.DISCONNECTED else "green"
        text.append(MODE_LABELS.get(self.mode, self.mode), mode_style)
        text.append("  │  ")
        text.append(safe(self.prompt_name) or "-", "bold")
        text.append(f"  v{self.version}" if self.version else "  (no text)")
        text.append(f"  {human_size(self.size_bytes)}  ~{self.tokens:,} tokens")
        if self.note:
            text.append("  │  " + safe(self.note), "italic")
        text.append("  │  ")
        text.append(safe(self.server), "bold")
        return text
