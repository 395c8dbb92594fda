"""The benchmarks' open loop: requests started on schedule, and the client's own heap kept out of its garbage
collector's reach while they are timed (a full collection of it showed as the service's latency)."""

import gc

from loadtests.throughput import open_loop


async def test_the_clients_heap_is_frozen_while_requests_are_timed_and_released_after():
    gc.unfreeze()  # whatever an earlier test froze: the count below is this loop's alone
    held = [[n] for n in range(1000)]  # what a benchmark holds before its clock starts
    frozen_while_timed: list[int] = []

    async def request(n: int) -> None:
        frozen_while_timed.append(gc.get_freeze_count())

    await open_loop(5, 1000, request)
    assert len(frozen_while_timed) == 5 and min(frozen_while_timed) >= len(held)
    assert gc.get_freeze_count() == 0
