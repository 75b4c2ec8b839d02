"""The example receiver against Qdrant's in-memory mode, with requests signed
by the standardwebhooks package as draftd signs them."""

from __future__ import annotations

import base64
import json
import os
import threading
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone

import pytest
from qdrant_client import QdrantClient, models
from standardwebhooks import Webhook

from receiver import Receiver, make_server

COLLECTION = "course_chunks"
COURSE_A, COURSE_B = str(uuid.uuid4()), str(uuid.uuid4())
FILE_A1, FILE_A2, FILE_B1 = (str(uuid.uuid4()) for _ in range(3))


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def qdrant() -> QdrantClient:
    client = QdrantClient(":memory:")
    client.create_collection(
        COLLECTION, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE)
    )
    points = [
        (COURSE_A, FILE_A1),
        (COURSE_A, FILE_A1),
        (COURSE_A, FILE_A2),
        (COURSE_B, FILE_B1),
        (COURSE_B, FILE_B1),
    ]
    client.upsert(
        COLLECTION,
        points=[
            models.PointStruct(
                id=i, vector=[1.0, float(i), 0.5, 0.25], payload={"course_id": c, "file_id": f}
            )
            for i, (c, f) in enumerate(points)
        ],
        wait=True,
    )
    return client


@pytest.fixture
def secrets() -> list[str]:
    # The old and the new secret of a rotation.
    return [new_secret(), new_secret()]


@pytest.fixture
def served(qdrant, secrets):
    receiver = Receiver(qdrant, COLLECTION, secrets)
    server = make_server(receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def event(kind: str, course: str, file: str | None = None) -> str:
    data = {
        "courseId": course,
        "organizationId": str(uuid.uuid4()),
        "userId": str(uuid.uuid4()),
        "draftSessionId": str(uuid.uuid4()),
        "status": "submitted",
    }
    if file:
        data["fileId"] = file
    stamp = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": kind, "timestamp": stamp, "data": data})


def post(url: str, body: str, secret: str, webhook_id: str | None = None, tamper: bool = False) -> int:
    webhook_id = webhook_id or str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    signature = Webhook(secret).sign(webhook_id, now, body)
    if tamper:
        signature = "v1," + base64.b64encode(b"\0" * 32).decode()
    request = urllib.request.Request(
        url,
        data=body.encode(),
        method="POST",
        headers={
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def points(qdrant: QdrantClient) -> list[tuple[str, str]]:
    records, _ = qdrant.scroll(COLLECTION, limit=100, with_payload=True)
    return sorted((r.payload["course_id"], r.payload["file_id"]) for r in records)


def test_course_deleted_removes_only_that_courses_vectors(served, qdrant, secrets):
    _, url = served
    assert post(url, event("course.deleted", COURSE_A), secrets[0]) == 204
    assert points(qdrant) == [(COURSE_B, FILE_B1)] * 2


def test_file_deleted_removes_only_that_files_vectors(served, qdrant, secrets):
    _, url = served
    # Signed with the new secret of the rotation only: accepted too.
    assert post(url, event("file.deleted", COURSE_A, FILE_A1), secrets[1]) == 204
    assert points(qdrant) == sorted([(COURSE_A, FILE_A2), (COURSE_B, FILE_B1), (COURSE_B, FILE_B1)])


def test_a_bad_signature_is_refused_and_deletes_nothing(served, qdrant, secrets):
    _, url = served
    before = points(qdrant)
    assert post(url, event("course.deleted", COURSE_A), secrets[0], tamper=True) == 401
    assert post(url, event("course.deleted", COURSE_A), new_secret()) == 401
    assert points(qdrant) == before


def test_a_duplicate_webhook_id_is_processed_once(served, qdrant, secrets):
    receiver, url = served
    calls = []
    apply = receiver.apply
    receiver.apply = lambda e: (calls.append(e["type"]), apply(e))
    webhook_id = str(uuid.uuid4())
    body = event("course.deleted", COURSE_B)
    assert post(url, body, secrets[0], webhook_id) == 204
    assert post(url, body, secrets[0], webhook_id) == 204
    assert calls == ["course.deleted"]
    assert all(course == COURSE_A for course, _ in points(qdrant))


def test_other_events_are_acknowledged_and_change_nothing(served, qdrant, secrets):
    _, url = served
    before = points(qdrant)
    for kind in ["course.materialized", "course.submitted", "course.trashed", "file.uploaded"]:
        assert post(url, event(kind, COURSE_A, FILE_A1), secrets[0]) == 204
    assert points(qdrant) == before
