"""RowIds.rows_of (the filter's rows for millions of ids found in the store) gives what
asking row_of for each id gives, for captures with and without sampled-out ids."""

from __future__ import annotations

import random

from ui.models.stored_rows import RowIds


def test_rows_of_many_ids_is_row_of_each() -> None:
    rnd = random.Random(3)
    for _ in range(300):
        ids = RowIds()
        last = rnd.randrange(1, 5)
        for _ in range(rnd.randrange(0, 60)):
            last += rnd.choice([1, 1, 1, 2, 5])  # mostly runs, some gaps (sampling)
            ids.append(last)
        found = sorted({rnd.randrange(0, last + 5) for _ in range(40)})
        count = len(ids)
        first = rnd.randrange(0, count + 1)
        end = rnd.randrange(first, count + 1)
        expected = [row for row in (ids.row_of(i) for i in found)
                    if row is not None and first <= row < end]
        assert ids.rows_of(found, first, end) == expected


def test_one_run_maps_by_offset() -> None:
    ids = RowIds()
    for message_id in range(101, 1101):
        ids.append(message_id)
    assert ids.rows_of([100, 101, 500, 1100, 1101], 0, 1000) == [0, 399, 999]
    assert ids.rows_of([101, 500, 1100], 1, 999) == [399]
