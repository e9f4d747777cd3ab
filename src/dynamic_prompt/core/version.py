"""The package's version, in the core so every layer may say it (User-Agent, MCP server info)."""

__version__ = "0.1.0"
