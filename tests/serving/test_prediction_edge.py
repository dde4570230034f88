"""The prediction endpoints' door, in process: JSON only, bounded, the body handed on whole."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from serving.prediction_edge import PredictionEdge

LIMIT = 1_000


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the size of the body it read and how many messages it took."""
    messages = 0
    size = 0
    while True:
        message = await receive()
        messages += 1
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    await JSONResponse({"size": size, "messages": messages, "path": Request(scope).url.path})(scope, receive, send)


@pytest.fixture
def client() -> TestClient:
    return TestClient(PredictionEdge(echo, path_prefix="/predict/", max_body_bytes=LIMIT))  # no lifespan: none needed


@pytest.mark.parametrize(
    "content_type", ["application/vnd.bentoml+pickle", "multipart/form-data; boundary=x", "text/plain", ""]
)
def test_any_body_but_json_is_refused_before_the_route(client: TestClient, content_type: str) -> None:
    response = client.post("/predict/churn", content=b"{}", headers={"content-type": content_type})
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_a_json_body_reaches_the_route_whole_in_one_message(client: TestClient) -> None:
    def pieces() -> Iterator[bytes]:  # sent chunked, in three pieces
        yield b'{"contact_ids": '
        yield b"[1, 2, 3]"
        yield b"}"

    response = client.post(
        "/predict/churn", content=pieces(), headers={"content-type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200
    assert response.json() == {"size": 26, "messages": 1, "path": "/predict/churn"}


def test_a_body_past_the_limit_is_413_declared_or_streamed(client: TestClient) -> None:
    declared = client.post("/predict/churn", content=b"1" * (LIMIT + 1), headers={"content-type": "application/json"})
    assert declared.status_code == 413
    assert declared.headers["connection"] == "close"

    def streamed() -> Iterator[bytes]:
        for _ in range(5):
            yield b"1" * (LIMIT // 3)

    chunked = client.post("/predict/churn", content=streamed(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413
    assert (
        client.post("/predict/churn", content=b"1" * LIMIT, headers={"content-type": "application/json"}).json()["size"]
        == LIMIT
    )


def test_other_paths_and_methods_pass_untouched(client: TestClient) -> None:
    big_form = b"x" * (LIMIT * 3)
    response = client.post("/api/imports/contacts", content=big_form, headers={"content-type": "text/csv"})
    assert response.status_code == 200 and response.json()["size"] == LIMIT * 3
    assert client.get("/predict/churn").status_code == 200


def test_a_client_that_disconnects_mid_body_is_not_waited_on() -> None:
    """The route gets what had arrived; the server does not hang on a body that never ends."""
    received: list[int] = []

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        received.append(len(message.get("body", b"")))

    edge = PredictionEdge(route, path_prefix="/predict/", max_body_bytes=LIMIT)
    inbox = [{"type": "http.request", "body": b"[1,", "more_body": True}, {"type": "http.disconnect"}]

    async def receive() -> dict[str, object]:
        return inbox.pop(0)

    async def send(message: dict[str, object]) -> None:
        raise AssertionError("nothing is answered to a client that left")

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/predict/churn",
        "headers": [(b"content-type", b"application/json")],
    }
    asyncio.run(asyncio.wait_for(edge(scope, receive, send), timeout=5))  # type: ignore[arg-type]
    assert received == [3]
