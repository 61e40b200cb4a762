"""What every simulated user sent, received and felt, and the figures drawn from it.

Pure bookkeeping (no I/O): the clients write events into one `Ledger`; `figures`
turns it into what the audience would have felt, per step and in total.

- **lost**: an acknowledged message that some member of its room never had shown;
- **duplicates shown**: one message (room, sender, msgId) shown under two sequence
  numbers, which any view keyed by sequence (the history page) shows twice;
- **duplicates suppressed**: the same sequence delivered again (replay overlapping
  live delivery), dropped by the client as the web client drops it;
- **unexpected disconnects**: a connection that ended without the server asking
  (anything but close 1012 "service restart", or the client stopping);
- **reconnect time**: from a connection's end to every room re-joined on the next.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Sent:
    msg_id: str
    room: str
    user: int
    at: float
    acked_at: float | None = None
    seq: int | None = None


@dataclass(frozen=True)
class Reconnect:
    user: int
    ended_at: float
    resumed_at: float
    expected: bool
    from_colour: str | None
    to_colour: str | None

    @property
    def seconds(self) -> float:
        return self.resumed_at - self.ended_at


@dataclass(frozen=True)
class Disconnect:
    user: int
    at: float
    code: int | None
    expected: bool
    colour: str | None


@dataclass(frozen=True)
class Window:
    """A named stretch of the run (a step of the script)."""

    name: str
    start: float
    end: float

    def holds(self, at: float) -> bool:
        return self.start <= at < self.end


@dataclass
class Figures:
    name: str
    seconds: float
    connections: dict[str, int]
    sent: int
    acknowledged: int
    delivered: int
    lost: int
    lost_deliveries: int
    duplicates_shown: int
    duplicates_suppressed: int
    unacknowledged: int
    unexpected_disconnects: int
    expected_disconnects: int
    reconnects: int
    reconnect_p50: float | None
    reconnect_p99: float | None
    latency_p50: float | None
    latency_p99: float | None

    @property
    def quiet(self) -> bool:
        """Nothing happened in it (the settling at the end, for one)."""
        return not (self.sent or self.reconnects or self.unexpected_disconnects)

    def to_json(self) -> dict[str, object]:
        def ms(value: float | None) -> float | None:
            return None if value is None else round(value * 1000, 1)

        return {
            "name": self.name,
            "seconds": round(self.seconds, 1),
            "connections": dict(self.connections),
            "sent": self.sent,
            "acknowledged": self.acknowledged,
            "delivered": self.delivered,
            "lost": self.lost,
            "lost_deliveries": self.lost_deliveries,
            "duplicates_shown": self.duplicates_shown,
            "duplicates_suppressed": self.duplicates_suppressed,
            "unacknowledged": self.unacknowledged,
            "unexpected_disconnects": self.unexpected_disconnects,
            "expected_disconnects": self.expected_disconnects,
            "reconnects": self.reconnects,
            "reconnect_ms": {"p50": ms(self.reconnect_p50), "p99": ms(self.reconnect_p99)},
            "latency_ms": {"p50": ms(self.latency_p50), "p99": ms(self.latency_p99)},
        }


@dataclass
class Ledger:
    members: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    sent: dict[str, Sent] = field(default_factory=dict)
    # (user, room) -> seq -> when it was shown
    shown: dict[tuple[int, str], dict[int, float]] = field(default_factory=dict)
    # (room, sender, msgId) -> the seqs it was shown under
    identities: dict[tuple[str, int | str, str], set[int]] = field(
        default_factory=lambda: defaultdict(set)
    )
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (at, seconds)
    suppressed: list[float] = field(default_factory=list)
    disconnects: list[Disconnect] = field(default_factory=list)
    reconnects: list[Reconnect] = field(default_factory=list)
    colour_of: dict[int, str | None] = field(default_factory=dict)
    # user -> [(at, colour)] for every connection it opened
    connections_of: dict[int, list[tuple[float, str | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    # --- events --------------------------------------------------------------------

    def joined(self, user: int, room: str) -> None:
        self.members[room].add(user)

    def connected(self, user: int, colour: str | None, at: float) -> None:
        self.colour_of[user] = colour
        self.connections_of[user].append((at, colour))

    def disconnected(self, user: int, at: float, code: int | None, *, expected: bool) -> None:
        self.disconnects.append(Disconnect(user, at, code, expected, self.colour_of.get(user)))
        self.colour_of[user] = None

    def resumed(self, reconnect: Reconnect) -> None:
        self.reconnects.append(reconnect)

    def sending(self, msg_id: str, room: str, user: int, at: float) -> None:
        self.sent.setdefault(msg_id, Sent(msg_id, room, user, at))

    def acked(self, msg_id: str, seq: int, at: float) -> None:
        sent = self.sent.get(msg_id)
        if sent is not None and sent.acked_at is None:
            sent.acked_at, sent.seq = at, seq

    def delivered(
        self,
        user: int,
        room: str,
        seq: int,
        msg_id: str,
        sender: str,
        at: float,
        *,
        live: bool = True,
    ) -> bool:
        """Record a `message` frame; False when the client drops it as already shown.

        Latency counts live deliveries only: a replay after a reconnect is late by design.
        """
        view = self.shown.setdefault((user, room), {})
        if seq in view:
            self.suppressed.append(at)
            return False
        view[seq] = at
        self.identities[(room, sender, msg_id)].add(seq)
        origin = self.sent.get(msg_id)
        if live and origin is not None and origin.room == room:
            self.latencies.append((at, at - origin.at))
        return True

    # --- figures -------------------------------------------------------------------

    def connections_by_colour(self) -> dict[str, int]:
        counts: dict[str, int] = {"blue": 0, "green": 0}
        for colour in self.colour_of.values():
            if colour in counts:
                counts[colour] += 1
        return counts

    def _missing(self, message: Sent) -> int:
        """Members of the message's room that never had it shown."""
        if message.seq is None:
            return 0
        return sum(
            1
            for member in self.members.get(message.room, ())
            if message.seq not in self.shown.get((member, message.room), {})
        )

    def figures(self, window: Window, connections: dict[str, int] | None = None) -> Figures:
        in_window = [m for m in self.sent.values() if window.holds(m.at)]
        acked = [m for m in in_window if m.acked_at is not None]
        missing = [self._missing(m) for m in acked]
        duplicate_identities = sum(
            1
            for (room, _, msg_id), seqs in self.identities.items()
            if len(seqs) > 1
            and (sent := self.sent.get(msg_id)) is not None
            and sent.room == room
            and window.holds(sent.at)
        )
        reconnects = [r for r in self.reconnects if window.holds(r.ended_at)]
        seconds = [r.seconds for r in reconnects]
        latencies = [value for at, value in self.latencies if window.holds(at)]
        delivered = sum(
            1 for view in self.shown.values() for at in view.values() if window.holds(at)
        )
        disconnects = [d for d in self.disconnects if window.holds(d.at)]
        return Figures(
            name=window.name,
            seconds=window.end - window.start,
            connections=connections if connections is not None else self.connections_by_colour(),
            sent=len(in_window),
            acknowledged=len(acked),
            delivered=delivered,
            lost=sum(1 for count in missing if count),
            lost_deliveries=sum(missing),
            duplicates_shown=duplicate_identities,
            duplicates_suppressed=sum(1 for at in self.suppressed if window.holds(at)),
            unacknowledged=len(in_window) - len(acked),
            unexpected_disconnects=sum(1 for d in disconnects if not d.expected),
            expected_disconnects=sum(1 for d in disconnects if d.expected),
            reconnects=len(reconnects),
            reconnect_p50=percentile(seconds, 50),
            reconnect_p99=percentile(seconds, 99),
            latency_p50=percentile(latencies, 50),
            latency_p99=percentile(latencies, 99),
        )

    def resumed_before(self, colour: str, since: float, deadline: float) -> tuple[int, int]:
        """Of the users on `colour` at `since`, how many resumed elsewhere before `deadline`.

        Returns (users that were on the colour, users that moved in time).
        """
        on_colour = set()
        for user, opened in self.connections_of.items():
            before = [c for at, c in opened if at <= since]
            if before and before[-1] == colour:
                on_colour.add(user)
        moved = {
            r.user
            for r in self.reconnects
            if r.user in on_colour
            and r.ended_at >= since
            and r.resumed_at <= deadline
            and r.to_colour not in (None, colour)
        }
        return len(on_colour), len(moved)


def windows_between(marks: Iterable[tuple[str, float]], end: float) -> list[Window]:
    """Consecutive windows from (name, start) marks; the last ends at `end`."""
    ordered = list(marks)
    return [
        Window(name, start, ordered[index + 1][1] if index + 1 < len(ordered) else end)
        for index, (name, start) in enumerate(ordered)
    ]
