"""New ids are UUIDv7: valid RFC 9562 UUIDs whose order follows the time they were made,
so every B-tree keyed by them grows at its right edge."""

from __future__ import annotations

import uuid

from mos.domain.commands import random_id, short_id, uuid7


def test_new_ids_are_version_7_rfc_9562_uuids():
    made = uuid.UUID(random_id())
    assert made.version == 7 and made.variant == uuid.RFC_4122


def test_an_id_made_in_a_later_millisecond_sorts_after_any_id_of_an_earlier_one():
    earlier = [str(uuid7(1_796_000_000_000)) for _ in range(200)]
    later = [str(uuid7(1_796_000_000_001)) for _ in range(200)]
    assert max(earlier) < min(later)


def test_the_millisecond_is_the_first_48_bits_and_the_rest_is_random():
    ids = {uuid7(1_796_000_000_000) for _ in range(1000)}
    assert len(ids) == 1000
    assert {made.int >> 80 for made in ids} == {1_796_000_000_000}


def test_a_short_id_keeps_the_random_tail_so_ids_made_together_stay_apart():
    made_together = [str(uuid7(1_796_000_000_000)) for _ in range(50)]
    assert len({made[:8] for made in made_together}) == 1  # the head is the shared millisecond
    assert len({short_id(made) for made in made_together}) == 50
    assert short_id("kv-53197939093346a2b7254cd9") == "b7254cd9"
