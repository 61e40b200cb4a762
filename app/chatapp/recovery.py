"""Which seqs a joining client can consider settled. No I/O.

A seq can be missing from a room for good: it was allocated, then storing the message
failed (the client retries it under a new seq). It can also be missing for a moment:
allocated on some task, still being stored. The two look alike, except with time: a
message is stored (or given up on) within PUT_DEADLINE of its seq's allocation, and
seqs are allocated in order, so a missing seq below a stored message whose timestamp
is older than SETTLE_MS will never appear.

`settled_seq` is the highest seq up to which a client holds everything there will
ever be, given what it had (`after`) and what the replay brings; `joined.seq` carries
it, so a client can resume from there after any later reconnect.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatapp.protocol import Message

PUT_DEADLINE_MS = 30_000
# Beyond PUT_DEADLINE_MS, with a margin for clock differences between tasks.
SETTLE_MS = 60_000


def settled_seq(after: int, replay: Sequence[Message], upto: int, now_ms: int) -> int:
    """The highest s <= upto such that every seq in (after, s] is in `replay` (in seq
    order) or will never exist."""
    held = {message.seq for message in replay}
    # oldest[i]: the oldest timestamp among replay[i:], i.e. among the higher seqs.
    oldest = [0] * (len(replay) + 1)
    oldest[len(replay)] = now_ms
    for index in range(len(replay) - 1, -1, -1):
        oldest[index] = min(replay[index].ts, oldest[index + 1])
    settled = after
    position = 0  # first replayed message with seq > the one being looked at
    for seq in range(after + 1, upto + 1):
        while position < len(replay) and replay[position].seq <= seq:
            position += 1
        if seq in held or oldest[position] <= now_ms - SETTLE_MS:
            settled = seq
        else:
            break
    return settled
