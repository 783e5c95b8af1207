"""The server-server API (see README.md in this folder)."""
