"""The console every human-readable line goes through (rich is imported only when one prints)."""

from __future__ import annotations

from rich.console import Console
from rich.segment import Segment

from leadshare.cli._common import CONTROL, terminal_safe


class SafeConsole(Console):
    """Escapes control characters from the data after rich has laid the output out and before it
    adds its own styling codes, so tables, plain lines and progress bars are all covered."""

    def render(self, renderable, options=None):
        for segment in super().render(renderable, options):
            if segment.control is None and CONTROL.search(segment.text):
                segment = Segment(terminal_safe(segment.text), segment.style)
            yield segment
