"""Glob matching for push rules (spec appendix: glob-style matching): `*` is any run of
characters, `?` exactly one, everything else literal; case-insensitive.

No regular expressions and no backtracking, so a hostile pattern or body cannot make a
match slow: the general case is a bit-parallel NFA (shift-and) whose state is one int,
O(len(text) * len(pattern) / 64) in the worst case. Before it, C-speed `str` methods answer
the common shapes: a literal pattern is an `==` or a `find` loop, and a pattern with
wildcards must have its longest literal piece somewhere in the text.

Two modes:
- whole: the pattern must match the entire value (event_match on any key but content.body);
- words: the pattern may match any substring that starts and ends at a word boundary
  (content.body, contains_display_name). A position is a boundary at either end of the
  text, or next to a non-word character; word characters are `str.isalnum()` and `_`.

Case-insensitivity is `str.lower()` on both sides (with U+0130, whose lower case is two
characters, lowered to a plain `i` so that positions in the folded text are positions in the
original). Patterns longer than `MAX_PATTERN_LENGTH` never match (the rule parser refuses
them before they get here).
"""

from __future__ import annotations

from homeserver.rules.push.shared import SharedObjects
from homeserver.rules.wildcard import matches_pieces

MAX_PATTERN_LENGTH = 1_000
_CACHE_SIZE = 10_000


def fold(text: str) -> str:
    """The case folding both sides of a match go through; keeps positions."""
    if "\u0130" in text:
        text = text.replace("\u0130", "i")
    return text.lower()


def _is_word(ch: str) -> bool:
    return ch == "_" or ch.isalnum()


def is_boundary(text: str, index: int) -> bool:
    """Whether a word-mode match may start or end at `index` (0 <= index <= len)."""
    if index == 0 or index == len(text):
        return True
    return not _is_word(text[index - 1]) or not _is_word(text[index])


def find_words(text: str, literal: str) -> bool:
    """Whether `literal` occurs in `text` starting and ending at word boundaries (both
    already folded): the C-speed path for literal patterns, display names and localparts."""
    if not literal:
        return True
    size = len(literal)
    start = text.find(literal)
    while start != -1:
        if is_boundary(text, start) and is_boundary(text, start + size):
            return True
        start = text.find(literal, start + 1)
    return False


class GlobMatcher:
    """A compiled pattern. Both methods take text already passed through `fold`."""

    __slots__ = (
        "_accept",
        "_any",
        "_init",
        "_longest",
        "_masks",
        "_never",
        "_segments",
        "_stars",
        "literal",
        "pattern",
    )

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._never = len(pattern) > MAX_PATTERN_LENGTH
        folded = fold(pattern)
        # Runs of `*` mean the same as one, and keeping them would need a longer closure.
        tokens: list[str] = []
        for ch in folded:
            if ch == "*" and tokens and tokens[-1] == "*":
                continue
            tokens.append(ch)
        collapsed = "".join(tokens)
        wild = "*" in collapsed or "?" in collapsed
        # The pattern itself when it has no wildcards (and may match at all).
        self.literal = None if wild or self._never else collapsed
        pieces = collapsed.replace("?", "*").split("*")
        self._longest = max(pieces, key=len)
        # For `*`-only patterns in whole mode: the literal pieces between the stars.
        self._segments = collapsed.split("*") if "?" not in collapsed else None
        masks: dict[str, int] = {}
        any_mask = stars = 0
        for index, ch in enumerate(tokens):
            bit = 1 << index
            if ch == "*":
                stars |= bit
            elif ch == "?":
                any_mask |= bit
            else:
                masks[ch] = masks.get(ch, 0) | bit
        # `?` consumes whatever the character is, so it joins every literal's mask.
        self._masks = {ch: mask | any_mask for ch, mask in masks.items()}
        self._any = any_mask
        self._stars = stars
        self._accept = 1 << len(tokens)
        self._init = 1 | ((1 & stars) << 1)

    def match_whole(self, text: str) -> bool:
        if self._never:
            return False
        literal = self.literal
        if literal is not None:
            return text == literal
        if self._longest not in text:
            return False
        if self._segments is not None:
            return self._stars_only(text)
        return self._run(text, words=False)

    def match_words(self, text: str) -> bool:
        if self._never:
            return False
        literal = self.literal
        if literal is not None:
            return find_words(text, literal)
        if self._longest not in text:
            return False
        return self._run(text, words=True)

    def _stars_only(self, text: str) -> bool:
        segments = self._segments
        assert segments is not None
        return matches_pieces(segments, text)

    def _run(self, text: str, *, words: bool) -> bool:
        # State bit k: pattern[:k] consumed. A star's bit loops on any character and has an
        # epsilon edge to the next bit (no two stars are adjacent, so one step closes it).
        masks, any_mask, stars = self._masks, self._any, self._stars
        accept, init = self._accept, self._init
        if not words:
            state = init
            for ch in text:
                state = ((state & masks.get(ch, any_mask)) << 1) | (state & stars)
                state |= (state & stars) << 1
                if not state:
                    return False
            return bool(state & accept)
        state = 0
        previous_is_word = False
        for index, ch in enumerate(text):
            is_word = ch == "_" or ch.isalnum()
            if index == 0 or not previous_is_word or not is_word:
                # A boundary: a match may end here, and another may start here.
                if state & accept:
                    return True
                state |= init
            state = ((state & masks.get(ch, any_mask)) << 1) | (state & stars)
            state |= (state & stars) << 1
            previous_is_word = is_word
        return bool((state | init) & accept)


_cache: SharedObjects[str, GlobMatcher] = SharedObjects(_CACHE_SIZE)


def compile_glob(pattern: str) -> GlobMatcher:
    """The compiled matcher for `pattern`, shared through a bounded cache."""
    return _cache.get(pattern, lambda: GlobMatcher(pattern))


def glob_matches(pattern: str, text: str, *, words: bool = False) -> bool:
    """Whether `pattern` matches `text` (whole value, or at word boundaries)."""
    matcher = compile_glob(pattern)
    folded = fold(text)
    return matcher.match_words(folded) if words else matcher.match_whole(folded)
