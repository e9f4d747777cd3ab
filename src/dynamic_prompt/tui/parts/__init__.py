"""The dashboard screen's parts: each owns its workers and posts messages to the screen.

They are widgets that show nothing (``display: none``), so their workers and
messages follow Textual's own rules: a part's message bubbles to the screen, whose
handler hands the data to the panes.
"""
