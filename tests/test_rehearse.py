"""The rehearsal's bookkeeping (what counts as lost, duplicated, expected or late) and
how a simulated user answers the server."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from websockets.asyncio.server import ServerConnection, serve

from chatops.errors import UsageError
from chatops.rehearse.client import SimUser
from chatops.rehearse.ledger import Ledger, Reconnect, Window, percentile, windows_between
from chatops.rehearse.script import check_bounds, demo_steps
from chatops.traffic.weights import Weights

EVERYTHING = Window("all", 0, 1000)


def room_of_three() -> Ledger:
    ledger = Ledger()
    for user in (1, 2, 3):
        ledger.joined(user, "r")
    return ledger


def test_an_acknowledged_message_every_member_had_shown_is_not_lost() -> None:
    ledger = room_of_three()
    ledger.sending("m1", "r", 1, at=10.0)
    ledger.acked("m1", seq=1, at=10.02)
    for user in (1, 2, 3):
        ledger.delivered(user, "r", 1, "m1", "u1", at=10.05)
    figures = ledger.figures(EVERYTHING)
    assert (figures.sent, figures.acknowledged, figures.delivered) == (1, 1, 3)
    assert figures.lost == figures.lost_deliveries == 0
    assert figures.latency_p50 == pytest.approx(0.05)


def test_an_acknowledged_message_one_member_never_had_is_lost() -> None:
    ledger = room_of_three()
    ledger.sending("m1", "r", 1, at=10.0)
    ledger.acked("m1", seq=1, at=10.02)
    ledger.delivered(1, "r", 1, "m1", "u1", at=10.05)
    ledger.delivered(2, "r", 1, "m1", "u1", at=10.05)
    figures = ledger.figures(EVERYTHING)
    assert (figures.lost, figures.lost_deliveries) == (1, 1)


def test_an_unacknowledged_message_is_not_lost_but_counted() -> None:
    ledger = room_of_three()
    ledger.sending("m1", "r", 1, at=10.0)
    figures = ledger.figures(EVERYTHING)
    assert (figures.lost, figures.unacknowledged) == (0, 1)


def test_the_same_sequence_again_is_suppressed_not_shown() -> None:
    ledger = room_of_three()
    ledger.sending("m1", "r", 1, at=1.0)
    ledger.acked("m1", 1, at=1.01)
    assert ledger.delivered(2, "r", 1, "m1", "u1", at=1.1) is True
    assert ledger.delivered(2, "r", 1, "m1", "u1", at=2.0, live=False) is False
    figures = ledger.figures(EVERYTHING)
    assert (figures.duplicates_suppressed, figures.duplicates_shown) == (1, 0)


def test_one_message_stored_under_two_sequences_is_a_duplicate_shown() -> None:
    ledger = room_of_three()
    ledger.sending("m1", "r", 1, at=1.0)
    ledger.acked("m1", 1, at=1.01)
    ledger.delivered(2, "r", 1, "m1", "u1", at=1.1)
    ledger.delivered(2, "r", 2, "m1", "u1", at=1.2)  # a retry stored twice
    assert ledger.figures(EVERYTHING).duplicates_shown == 1


def test_replays_do_not_count_as_latency() -> None:
    ledger = room_of_three()
    ledger.sending("m1", "r", 1, at=1.0)
    ledger.acked("m1", 1, at=1.01)
    ledger.delivered(2, "r", 1, "m1", "u1", at=9.0, live=False)
    assert ledger.figures(EVERYTHING).latency_p99 is None


def test_disconnects_are_expected_only_when_the_server_asked() -> None:
    ledger = Ledger()
    ledger.connected(1, "blue", at=0.0)
    ledger.disconnected(1, at=5.0, code=1012, expected=True)
    ledger.connected(1, "green", at=5.3)
    ledger.disconnected(1, at=8.0, code=1006, expected=False)
    figures = ledger.figures(EVERYTHING)
    assert (figures.expected_disconnects, figures.unexpected_disconnects) == (1, 1)


def test_users_of_a_retired_colour_resumed_before_its_tasks_stopped() -> None:
    ledger = Ledger()
    for user, colour in ((1, "blue"), (2, "blue"), (3, "green")):
        ledger.connected(user, colour, at=0.0)
    ledger.resumed(Reconnect(1, 10.0, 10.4, True, "blue", "green"))
    ledger.resumed(Reconnect(2, 11.0, 31.0, True, "blue", "green"))  # too late
    assert ledger.resumed_before("blue", since=5.0, deadline=30.0) == (2, 1)


def test_steps_and_windows() -> None:
    steps = demo_steps("blue", rollback=True)
    assert [s.name for s in steps] == [
        "90/10",
        "50/50",
        "10/90",
        "rollback to blue",
        "0/100",
        "retire blue",
    ]
    assert steps[0].weights == Weights(90, 10)
    assert demo_steps("green")[0].weights == Weights(10, 90)
    assert [s.kind for s in demo_steps("blue", broken=True)] == ["broken-rollout"]
    windows = windows_between([("a", 0.0), ("b", 5.0)], end=9.0)
    assert [(w.name, w.start, w.end) for w in windows] == [("a", 0.0, 5.0), ("b", 5.0, 9.0)]


@pytest.mark.parametrize(
    ("users", "rooms", "rate", "seconds", "message"),
    [
        (0, 1, 6, 30, "--users must be from 1 to 1000"),
        (5000, 5, 6, 30, "--users must be from 1 to 1000"),
        (10, 20, 6, 30, "--rooms must be from 1 to 10"),
        (10, 2, 0, 30, "--rate must be above 0"),
        (10, 2, 600, 30, "at most 60 messages a minute"),
        (10, 2, 6, 0.5, "--step-seconds must be from 1 to 600"),
    ],
)
def test_a_rehearsal_is_bounded(users, rooms, rate, seconds, message) -> None:
    with pytest.raises(UsageError, match=message):
        check_bounds(users, rooms, rate, seconds)


def test_percentiles() -> None:
    assert percentile([], 99) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(v) for v in range(1, 101)], 99) == 99.0


# --- the simulated user's view, and the report ------------------------------------------


def test_a_room_view_resumes_from_the_highest_seq_with_none_missing() -> None:
    from chatops.rehearse.client import RoomState

    state = RoomState()
    for seq in (1, 2, 4, 5):
        state.show(seq)
    assert state.watermark == 2 and state.above == {4, 5}
    state.show(3)
    assert state.watermark == 5 and state.above == set()
    state.show(2)  # already shown: nothing moves
    assert state.watermark == 5
    state.reset(40)
    assert (state.watermark, state.above) == (40, set())


def test_the_report_shows_the_verdict_the_steps_and_a_timeline() -> None:
    from chatops.rehearse import report
    from chatops.rehearse.runner import Rehearsal, Sample
    from chatops.rehearse.script import Plan

    ledger = room_of_three()
    ledger.sending("m1", "r", 1, at=1.0)
    ledger.acked("m1", 1, at=1.01)
    for user in (1, 2, 3):
        ledger.delivered(user, "r", 1, "m1", "u1", at=1.05)
    plan = Plan(3, 1, 6.0, 5.0, tuple(demo_steps("blue")), "blue")
    rehearsal = Rehearsal(plan, "ws://127.0.0.1:1/ws", started=0.0, ended=10.0)
    rehearsal.marks = [("steady", 0.0), ("<90/10>", 5.0)]
    rehearsal.samples = [
        Sample(
            float(t), Weights(100 - 10 * t, 10 * t), {"blue": 3, "green": 0}, 1.0, 3.0, 0.02, 0.05
        )
        for t in range(1, 10)
    ]
    rehearsal.steps = [ledger.figures(w) for w in windows_between(rehearsal.marks, 10.0)]
    rehearsal.total = ledger.figures(Window("total", 0.0, 10.0))
    page = report.to_html(rehearsal, "the local emulator")
    assert rehearsal.ok and "PASS: nothing lost, no duplicate shown" in page
    assert page.count("<path ") >= 6  # weights, users, messages, latency
    assert "&lt;90/10&gt;" in page and "<90/10>" not in page  # names are text, never markup
    data = report.to_json(rehearsal, "the local emulator")
    assert data["ok"] is True and data["total"]["lost"] == 0 and len(data["timeline"]) == 9


def test_a_simulated_user_joins_again_when_the_server_could_not_serve_the_join() -> None:
    """`internal` for a join (history unavailable, e.g. DynamoDB timing out in a
    reconnect storm) is retried as app/PROTOCOL.md says, so the user is not left out
    of the room's messages. The server here is a scripted WebSocket peer."""

    joins: list[dict[str, object]] = []

    async def peer(ws: ServerConnection) -> None:
        await ws.recv()  # auth
        hello = {"type": "hello", "userId": "7", "resumeToken": "t", "colour": "blue"}
        await ws.send(json.dumps(hello))
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] != "join":
                continue
            joins.append(frame)
            if len(joins) == 1:
                error = {"code": "internal", "message": "history unavailable: join again"}
                await ws.send(json.dumps({"type": "error", "room": "r", **error}))
            else:
                await ws.send(json.dumps({"type": "joined", "room": "r", "seq": 0}))

    async def scenario() -> None:
        async with serve(peer, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            user = SimUser(0, f"ws://127.0.0.1:{port}/ws", ["r"], Ledger(), rng=random.Random(1))
            running = asyncio.create_task(user.run())
            try:
                await asyncio.wait_for(user.ready.wait(), 10)
            finally:
                await user.stop()
                await asyncio.wait_for(running, 10)
            assert user.errors == {"internal": 1}

    asyncio.run(scenario())
    assert [frame["room"] for frame in joins] == ["r", "r"]
