"""Errors of the room engine."""

from __future__ import annotations


class AuthError(Exception):
    """An event failed the authorization rules; the message names the rule."""
