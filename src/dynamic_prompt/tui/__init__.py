"""The live Textual dashboard (the only package that imports Textual or Rich).

Start it with :func:`dynamic_prompt.tui.app.run_dashboard`, or build a
:class:`dynamic_prompt.tui.app.DashboardApp` (the test factory).
"""
