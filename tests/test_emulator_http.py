"""The emulator's HTTP front: kept-alive connections, and DynamoDB's direct route."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from werkzeug.serving import make_server

from chatops.emulator.manager import GENERATION_PATH, EmulatorManager
from chatops.emulator.server import RequestHandler


def echo_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers with the request body's length; fails on /boom and /mute (which starts no
    response); reads no body on /skip."""
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("boom")
    if path == "/mute":
        return []
    if path == "/skip":
        start_response("200 OK", [])
        return [b"skipped"]
    length = len(environ["wsgi.input"].read())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(length).encode()]


@contextmanager
def serving(app: Any) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=RequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def ask(
    connection: http.client.HTTPConnection, path: str, body: bytes = b"", **headers: str
) -> tuple[int, str, http.client.HTTPMessage]:
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read().decode(), response.headers


def test_one_connection_carries_many_requests() -> None:
    with serving(echo_app) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            status, text, headers = ask(connection, "/", b"x" * 10)
            assert (status, text) == (200, "10")
            assert headers["Content-Length"] == "2" and "Connection" not in headers
            first = connection.sock
            assert first is not None
            # The body of a request the app never read does not spill into the next one.
            assert ask(connection, "/skip", b"y" * 5000)[:2] == (200, "skipped")
            assert ask(connection, "/", b"z" * 3)[:2] == (200, "3")
            assert connection.sock is first
        finally:
            connection.close()


@pytest.mark.parametrize("path", ["/boom", "/mute"])
def test_a_failing_request_gets_500_and_its_connection_closes(path: str) -> None:
    with serving(echo_app) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            status, _, headers = ask(connection, path)
            assert status == 500 and headers["Connection"] == "close"
            assert connection.sock is None
            assert ask(connection, "/", b"abc")[:2] == (200, "3")  # a new connection
        finally:
            connection.close()


def test_a_chunked_request_is_served_and_closes_its_connection() -> None:
    with serving(echo_app) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("POST", "/", body=iter([b"abc", b"de"]), encode_chunked=True)
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b"5")
            assert response.headers["Connection"] == "close"
        finally:
            connection.close()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    manager = EmulatorManager(Path(tmp_path_factory.mktemp("emulator")))
    started, _ = manager.start()
    try:
        yield started.endpoint
    finally:
        manager.stop()


def generation(endpoint: str) -> int:
    host, port = endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", GENERATION_PATH)
        return int(json.loads(connection.getresponse().read())["generation"])
    finally:
        connection.close()


def aws(endpoint: str, service: str, region: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_dynamodb_answers_as_moto_and_leaves_the_generation_alone(emulator: str) -> None:
    client = aws(emulator, "dynamodb", "eu-west-1")
    before = generation(emulator)
    client.create_table(
        TableName="probe",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    item = {"id": {"S": "a"}, "text": {"S": "<b>hi</b>"}}
    client.put_item(TableName="probe", Item=item, ConditionExpression="attribute_not_exists(id)")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        client.put_item(
            TableName="probe",
            Item={"id": {"S": "a"}, "text": {"S": "other"}},
            ConditionExpression="attribute_not_exists(id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert refused.value.response["Item"] == item
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_item(TableName="missing", Key={"id": {"S": "a"}})
    assert client.get_item(TableName="probe", Key={"id": {"S": "a"}})["Item"] == item
    # The table is in the region the request was signed for, as with moto's own routing.
    assert client.list_tables()["TableNames"] == ["probe"]
    assert aws(emulator, "dynamodb", "us-west-2").list_tables()["TableNames"] == []
    assert generation(emulator) == before

    # Any other service's write still counts.
    aws(emulator, "sqs", "eu-west-1").create_queue(QueueName="probe")
    assert generation(emulator) == before + 1
