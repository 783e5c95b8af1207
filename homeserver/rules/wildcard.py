"""`*` wildcards matched without regular expressions (filters' `types`, push rules' globs).

A pattern `a*b*c` is its literal pieces: the first must be a prefix, the last a suffix,
and taking each middle piece at its leftmost place after the previous one is never worse.
Each piece is one `str.find`, so a pattern of many stars against a long value costs about
the value's length per piece, never the exponential backtracking a regex can take.
"""

from __future__ import annotations

from collections.abc import Sequence


def star_pieces(pattern: str) -> tuple[str, ...]:
    """The literal pieces between the stars (one piece: no star)."""
    return tuple(pattern.split("*"))


def matches_pieces(pieces: Sequence[str], text: str) -> bool:
    """Whether the whole of `text` matches the pattern whose pieces these are."""
    if len(pieces) == 1:
        return text == pieces[0]
    first, last = pieces[0], pieces[-1]
    if len(first) + len(last) > len(text):
        return False
    if not text.startswith(first) or not text.endswith(last):
        return False
    position, end = len(first), len(text) - len(last)
    for piece in pieces[1:-1]:
        found = text.find(piece, position, end)
        if found == -1:
            return False
        position = found + len(piece)
    return True
