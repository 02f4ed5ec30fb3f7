"""AT Protocol TIDs (timestamp identifiers), the record keys of Bluesky posts.

A TID is a 64-bit integer written as 13 characters of a sortable base-32
alphabet: the top bit is 0, the next 53 bits are microseconds since the Unix
epoch and the low 10 bits are a "clock id".  Crosspost fixes one TID per
delivery before the first attempt and uses it as the post's record key, so a
repeat of the same write lands on the same key (see ``worker.platforms.bluesky``).

Spec: https://atproto.com/specs/tid
"""

from __future__ import annotations

import re
import secrets
import threading
import time

ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_LENGTH = 13
TID_PATTERN = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")

_TIMESTAMP_MASK = (1 << 53) - 1
_CLOCK_ID_MASK = (1 << 10) - 1


def encode_tid(value: int) -> str:
    """The 13-character form of a 63-bit value (big-endian, 5 bits a character)."""
    if not 0 <= value < (1 << 63):
        raise ValueError("a TID is a non-negative 63-bit integer")
    chars = []
    for _ in range(TID_LENGTH):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def decode_tid(tid: str) -> int:
    if not is_tid(tid):
        raise ValueError(f"not a TID: {tid!r}")
    value = 0
    for char in tid:
        value = (value << 5) | ALPHABET.index(char)
    return value


def is_tid(text: str) -> bool:
    return TID_PATTERN.fullmatch(text) is not None


def tid_microseconds(tid: str) -> int:
    """The timestamp part: microseconds since the Unix epoch."""
    return decode_tid(tid) >> 10


class TidClock:
    """Hands out TIDs that strictly increase, across every thread that shares it.

    The clock id is picked once at random, as the reference implementation
    does: two processes (two hosts, say) generating in the same microsecond
    then still differ in the low bits.  Within one clock, when the wall clock
    stands still or steps back, the timestamp is bumped past the last one
    handed out, so order and uniqueness never depend on clock resolution.
    """

    def __init__(self, clock_id: int | None = None) -> None:
        self._clock_id = secrets.randbelow(1024) if clock_id is None else clock_id
        if not 0 <= self._clock_id <= _CLOCK_ID_MASK:
            raise ValueError("clock id must fit in 10 bits")
        self._last_micros = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            micros = max(time.time_ns() // 1000, self._last_micros + 1)
            self._last_micros = micros
        return encode_tid(((micros & _TIMESTAMP_MASK) << 10) | self._clock_id)


_default_clock = TidClock()


def next_tid() -> str:
    """A fresh TID from the process-wide clock."""
    return _default_clock.next()
