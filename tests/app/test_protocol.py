"""Frames in and out: validation of every client frame, encoding of server frames."""

from __future__ import annotations

import json

import pytest
from chatapp import protocol
from chatapp.protocol import Auth, Join, Leave, Message, Ping, ProtocolError, Send, Typing

MSG_ID = "abcdEFGH-123_"


def send(**fields: object) -> str:
    return json.dumps({"type": "send", **fields})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"type":"auth"}', Auth(token=None, nickname=None)),
        ('{"type":"auth","token":"t.s","nickname":"  ann  "}', Auth(token="t.s", nickname="ann")),
        ('{"type":"auth","token":null}', Auth(token=None, nickname=None)),
        ('{"type":"join","room":"general"}', Join(room="general", after=None)),
        ('{"type":"join","room":"a","after":0}', Join(room="a", after=0)),
        ('{"type":"join","room":"r-1_x","after":42}', Join(room="r-1_x", after=42)),
        ('{"type":"leave","room":"general"}', Leave(room="general")),
        (
            send(room="general", text=" hi ", msgId=MSG_ID),
            Send(room="general", text="hi", msg_id=MSG_ID),
        ),
        (
            send(room="g", text="<script>alert(1)</script>", msgId=MSG_ID),
            Send(room="g", text="<script>alert(1)</script>", msg_id=MSG_ID),
        ),
        ('{"type":"typing","room":"general"}', Typing(room="general")),
        ('{"type":"ping"}', Ping(id=None)),
        ('{"type":"ping","id":7}', Ping(id=7)),
        ('{"type":"ping","id":"p-1"}', Ping(id="p-1")),
        ('{"type":"join","room":"general","extra":true}', Join(room="general", after=None)),
    ],
)
def test_valid_frames_parse(raw: str, expected: protocol.ClientFrame) -> None:
    assert protocol.parse(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "invalid_json"),
        ('{"type":"send"', "invalid_json"),
        ("[1,2]", "invalid_json"),
        ('"auth"', "invalid_json"),
        ("{}", "invalid_field"),
        ('{"type":5}', "invalid_field"),
        ('{"type":"shout"}', "unknown_type"),
        ('{"type":"join"}', "invalid_field"),
        ('{"type":"join","room":7}', "invalid_field"),
        ('{"type":"join","room":""}', "invalid_room"),
        ('{"type":"join","room":"General"}', "invalid_room"),
        ('{"type":"join","room":"-x"}', "invalid_room"),
        ('{"type":"join","room":"a/b"}', "invalid_room"),
        (json.dumps({"type": "join", "room": "a" * 33}), "invalid_room"),
        ('{"type":"join","room":"a","after":-1}', "invalid_field"),
        ('{"type":"join","room":"a","after":"3"}', "invalid_field"),
        ('{"type":"join","room":"a","after":1.5}', "invalid_field"),
        ('{"type":"join","room":"a","after":true}', "invalid_field"),
        ('{"type":"leave"}', "invalid_field"),
        ('{"type":"typing","room":"A B"}', "invalid_room"),
        ('{"type":"send","room":"a","text":"hi"}', "invalid_field"),
        ('{"type":"send","room":"a","text":"hi","msgId":"short"}', "invalid_field"),
        ('{"type":"send","room":"a","text":"hi","msgId":"has space!"}', "invalid_field"),
        (send(room="a", text="hi", msgId="x" * 65), "invalid_field"),
        (send(room="a", msgId=MSG_ID), "invalid_field"),
        (send(room="a", text=3, msgId=MSG_ID), "invalid_field"),
        (send(room="a", text="   ", msgId=MSG_ID), "empty_text"),
        (
            send(room="a", text="x" * 2001, msgId=MSG_ID),
            "text_too_long",
        ),
        (send(room="A", text="hi", msgId=MSG_ID), "invalid_room"),
        ('{"type":"auth","token":5}', "invalid_field"),
        ('{"type":"auth","nickname":""}', "invalid_field"),
        ('{"type":"auth","nickname":"   "}', "invalid_field"),
        (json.dumps({"type": "auth", "nickname": "n" * 25}), "invalid_field"),
        ('{"type":"auth","nickname":"a\\u0007b"}', "invalid_field"),
        ('{"type":"auth","nickname":["ann"]}', "invalid_field"),
        ('{"type":"ping","id":{"a":1}}', "invalid_field"),
        (json.dumps({"type": "ping", "id": "p" * 65}), "invalid_field"),
    ],
)
def test_invalid_frames_are_refused_with_their_code(raw: str, code: str) -> None:
    with pytest.raises(ProtocolError) as raised:
        protocol.parse(raw)
    assert raised.value.code == code


def test_text_limits_count_characters_after_trimming() -> None:
    exactly = "é" * protocol.MAX_TEXT_LENGTH
    frame = protocol.parse(
        json.dumps({"type": "send", "room": "a", "text": f"  {exactly}\n", "msgId": MSG_ID})
    )
    assert isinstance(frame, Send) and frame.text == exactly


def test_errors_of_a_send_carry_its_msg_id_and_room() -> None:
    with pytest.raises(ProtocolError) as raised:
        protocol.parse(json.dumps({"type": "send", "room": "a", "text": "", "msgId": MSG_ID}))
    frame = json.loads(protocol.error_frame(raised.value))
    assert frame == {
        "type": "error",
        "code": "empty_text",
        "message": "text is empty",
        "msgId": MSG_ID,
        "room": "a",
    }


def test_message_frames_keep_markup_as_text_and_say_whether_replayed() -> None:
    message = Message("a", 3, MSG_ID, "7", "ann", '<img src=x onerror="alert(1)">', 1700, "blue")
    live = json.loads(protocol.message_frame(message, replay=False))
    assert live == {
        "type": "message",
        "room": "a",
        "seq": 3,
        "msgId": MSG_ID,
        "userId": "7",
        "nickname": "ann",
        "text": '<img src=x onerror="alert(1)">',
        "ts": 1700,
        "colour": "blue",
        "replay": False,
    }
    assert json.loads(protocol.message_frame(message, replay=True))["replay"] is True
    assert Message.from_json(message.to_json()) == message


@pytest.mark.parametrize(
    "raw",
    [
        '{"room":"a"}',
        '{"room":"a","seq":"1","msgId":"m","userId":"1","nickname":"n",'
        '"text":"t","ts":1,"colour":"blue"}',
        "[]",
    ],
)
def test_malformed_messages_from_redis_are_rejected(raw: str) -> None:
    with pytest.raises(ValueError):
        Message.from_json(raw)


def test_hello_announces_the_limits() -> None:
    frame = json.loads(
        protocol.hello(
            user_id="1",
            nickname="ann",
            resume_token="t",
            resumed=False,
            colour="green",
            version="v1",
            task="task-1",
            connection_id="c1",
        )
    )
    assert frame["limits"] == {
        "maxTextLength": 2000,
        "maxFrameBytes": 16384,
        "sendsPerSecond": 5,
        "burst": 10,
        "maxRooms": 10,
    }
    assert frame["colour"] == "green" and frame["type"] == "hello"
