"""Identifiers of new managed objects.

IDM gives every created object a random UUID as its ``_id``. Bulk imports
create millions at a time, and random ids land all over the
``(object_type_id, object_id)`` unique index, so each insert touches a
different page. A UUID version 7 (RFC 9562) starts with the time in
milliseconds, so ids made together sort together and their index entries go
to the same few pages; the other 74 bits stay random, so ids cannot be
guessed any more easily than with version 4 in a batch made the same
millisecond.
"""

import os
import time

_VARIANT = "89ab"  # the two variant bits 10, followed by one random bit


def new_object_ids(count: int) -> list[str]:
    """``count`` fresh UUIDv7 strings in canonical form, time-ordered by call."""
    stamp = f"{time.time_ns() // 1_000_000:012x}"
    head = f"{stamp[:8]}-{stamp[8:]}-7"
    noise = os.urandom(10 * count).hex()
    variant = _VARIANT
    ids = []
    for start in range(0, 20 * count, 20):
        r = noise[start : start + 20]
        ids.append(f"{head}{r[0:3]}-{variant[int(r[3], 16) & 3]}{r[4:7]}-{r[7:19]}")
    return ids


def new_object_id() -> str:
    """One fresh UUIDv7 string."""
    return new_object_ids(1)[0]
