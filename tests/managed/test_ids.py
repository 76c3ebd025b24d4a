"""Object ids: canonical UUIDv7 text, unique, and ordered by creation time."""

import re
import time
import uuid

from managed.ids import new_object_id, new_object_ids

CANONICAL = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)


def test_ids_are_canonical_version_7_uuids():
    ids = new_object_ids(1000)
    assert len(ids) == 1000
    assert len(set(ids)) == 1000
    for text in ids:
        assert CANONICAL.fullmatch(text), text
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert str(parsed) == text


def test_ids_carry_the_time_they_were_made():
    before = time.time_ns() // 1_000_000
    made = new_object_id()
    after = time.time_ns() // 1_000_000
    stamp = int(made.replace("-", "")[:12], 16)
    assert before <= stamp <= after


def test_later_ids_sort_after_earlier_ones():
    first = new_object_ids(50)
    time.sleep(0.002)  # the next millisecond at least
    second = new_object_ids(50)
    assert max(first) < min(second)


def test_no_ids_for_an_empty_batch():
    assert new_object_ids(0) == []
