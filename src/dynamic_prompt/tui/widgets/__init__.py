"""The dashboard's panes: each receives data as attributes and posts messages."""
