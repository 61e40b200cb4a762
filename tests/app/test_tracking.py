"""Delivered-seq tracking, one framing written to many connections, settled seqs and the
rate limits."""

from __future__ import annotations

import asyncio

import pytest
from chatapp.hub import SeqTracker, Writes, write_frame
from chatapp.protocol import Message
from chatapp.ratelimit import TokenBucket, Violations
from chatapp.recovery import SETTLE_MS, settled_seq
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve


@pytest.mark.parametrize(
    ("start", "arrivals", "new", "watermark"),
    [
        (0, [1, 2, 3], [True, True, True], 3),
        (0, [1, 1, 2, 1], [True, False, True, False], 2),
        (5, [3, 5, 6], [False, False, True], 6),
        (0, [2, 3, 1], [True, True, True], 3),
        (0, [3, 2, 3, 2], [True, True, False, False], 0),
        (10, [12, 14, 11, 13, 14], [True, True, True, True, False], 14),
    ],
)
def test_each_seq_is_new_once(
    start: int, arrivals: list[int], new: list[bool], watermark: int
) -> None:
    tracker = SeqTracker(start)
    assert [tracker.add(seq) for seq in arrivals] == new
    assert tracker.watermark == watermark
    assert all(tracker.seen(seq) for seq in arrivals)


def test_a_permanent_hole_is_given_up_once_too_much_is_waiting_above_it() -> None:
    tracker = SeqTracker(0)
    # seq 1 never arrives (allocated, never stored): everything else queues above it.
    for seq in range(2, SeqTracker.MAX_ABOVE + 3):
        assert tracker.add(seq)
    assert tracker.watermark == SeqTracker.MAX_ABOVE + 2
    assert tracker.above is None
    assert not tracker.add(SeqTracker.MAX_ABOVE)


def test_highest_is_the_top_of_what_was_delivered() -> None:
    tracker = SeqTracker(0)
    for seq in (1, 2, 7):
        tracker.add(seq)
    assert (tracker.watermark, tracker.highest) == (2, 7)


@pytest.mark.parametrize(
    ("times", "allowed"),
    [
        ([0.0] * 12, [True] * 10 + [False, False]),
        ([0.0] * 10 + [0.1, 0.2], [True] * 10 + [False, True]),
        ([0.0] * 10 + [2.0] * 11, [True] * 10 + [True] * 10 + [False]),
    ],
)
def test_the_send_bucket_allows_a_burst_of_ten_then_five_a_second(
    times: list[float], allowed: list[bool]
) -> None:
    bucket = TokenBucket(5.0, 10, now=0.0)
    assert [bucket.take(now) for now in times] == allowed


@pytest.mark.parametrize(
    ("times", "flooding_at"),
    [
        ([i * 0.1 for i in range(20)], 19),
        ([i * 0.6 for i in range(25)], None),
        ([0.0] * 5 + [20.0 + i * 0.1 for i in range(20)], 24),
    ],
)
def test_twenty_violations_within_ten_seconds_mean_flooding(
    times: list[float], flooding_at: int | None
) -> None:
    violations = Violations(20, 10.0)
    results = [violations.add(now) for now in times]
    assert (results.index(True) if True in results else None) == flooding_at


NOW = 1_700_000_000_000
OLD = NOW - SETTLE_MS - 1
RECENT = NOW - 1_000


def stored(seq: int, ts: int) -> Message:
    return Message("room", seq, f"msg-{seq:05d}", "1", "ann", "text", ts, "blue")


@pytest.mark.parametrize(
    ("after", "replay", "upto", "settled"),
    [
        (0, [], 0, 0),
        (5, [], 5, 5),
        (0, [(1, RECENT), (2, RECENT), (3, RECENT)], 3, 3),
        # seq 4 allocated, not stored yet: it comes live, the client resumes below it.
        (0, [(1, RECENT), (2, RECENT), (3, RECENT)], 4, 3),
        (0, [(1, RECENT), (3, RECENT)], 3, 1),
        # seq 2 failed long ago: a stored message above it is older than SETTLE_MS.
        (0, [(1, OLD), (3, OLD), (4, RECENT)], 4, 4),
        (0, [(1, OLD), (3, RECENT), (4, RECENT)], 4, 1),
        (10, [(13, OLD), (14, RECENT)], 15, 14),
        (10, [(13, RECENT)], 13, 10),
    ],
)
def test_the_settled_seq_skips_only_seqs_that_will_never_exist(
    after: int, replay: list[tuple[int, int]], upto: int, settled: int
) -> None:
    messages = [stored(seq, ts) for seq, ts in replay]
    assert settled_seq(after, messages, upto, NOW) == settled


async def _frames_written_to(compression: str | None) -> list[str]:
    """What clients of a server with `compression` read after `write_frame` to them all."""
    connected: list[ServerConnection] = []
    ready = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        connected.append(ws)
        if len(connected) == 3:
            ready.set()
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=compression) as server:
        port = server.sockets[0].getsockname()[1]
        clients = [
            await connect(f"ws://127.0.0.1:{port}", compression=compression) for _ in range(3)
        ]
        await asyncio.wait_for(ready.wait(), 5)
        writes = Writes()
        write_frame(connected, '{"type":"message","text":"héllo <b>"}', writes)
        write_frame(connected, "second", writes)
        received = [await asyncio.wait_for(c.recv(), 5) for c in clients for _ in range(2)]
        for client in clients:
            await client.close()
        return [str(text) for text in received]


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_one_framing_reaches_every_member_intact(compression: str | None) -> None:
    received = asyncio.run(_frames_written_to(compression))
    assert received == ['{"type":"message","text":"héllo <b>"}', "second"] * 3
