"""A draftd webhook receiver that keeps a Qdrant collection in step with courses.

draftd POSTs lifecycle events signed per Standard Webhooks (docs/webhooks.md).
This receiver verifies each request with the `standardwebhooks` package
(accepting any of several secrets, so that a secret can be rotated), processes
each `webhook-id` once, and:

- on `course.deleted`, deletes every point whose payload `course_id` is the course;
- on `file.deleted`, every point whose payload `file_id` is the file;
- answers 2xx to every other event (it has nothing to do for them).

A bad or missing signature is answered 401 and changes nothing; a failure of
Qdrant is answered 500, so that draftd retries the delivery later.

Run it with
    WEBHOOK_SECRETS=whsec_... QDRANT_URL=http://localhost:6333 \
    QDRANT_COLLECTION=course_chunks python receiver.py
and point draftd at it: DRAFTD_WEBHOOK_URL=http://host:8099/ and the same
DRAFTD_WEBHOOK_SECRET.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from qdrant_client import QdrantClient, models
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

log = logging.getLogger("qdrant-receiver")

# The largest request body read; draftd's events are a few hundred bytes.
MAX_BODY = 64 * 1024


class SeenIds:
    """The webhook-ids already processed, the most recent `capacity` of them.

    draftd delivers at least once: a delivery whose answer was lost comes again
    with the same webhook-id. In memory here; a receiver with several replicas
    keeps them in a shared store (a table with a unique key, Redis SET NX).
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def __contains__(self, webhook_id: str) -> bool:
        with self._lock:
            return webhook_id in self._ids

    def add(self, webhook_id: str) -> None:
        with self._lock:
            self._ids[webhook_id] = None
            while len(self._ids) > self._capacity:
                self._ids.popitem(last=False)


class Receiver:
    """Verifies, dedupes and applies draftd's events to one Qdrant collection."""

    def __init__(self, qdrant: QdrantClient, collection: str, secrets: list[str]) -> None:
        if not secrets:
            raise ValueError("at least one whsec_ secret is needed")
        self.qdrant = qdrant
        self.collection = collection
        self.verifiers = [Webhook(secret) for secret in secrets]
        self.seen = SeenIds()
        self._apply_lock = threading.Lock()

    def verify(self, body: bytes, headers: dict[str, str]) -> dict | None:
        """The event, if one of the secrets signed it (and it is recent)."""
        for verifier in self.verifiers:
            try:
                return verifier.verify(body, headers)
            except WebhookVerificationError:
                continue
        return None

    def handle(self, body: bytes, headers: dict[str, str]) -> int:
        """Processes one request; returns the HTTP status to answer."""
        event = self.verify(body, headers)
        if event is None:
            return 401
        webhook_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
        with self._apply_lock:
            if webhook_id in self.seen:
                return 204
            self.apply(event)
            self.seen.add(webhook_id)
        return 204

    def apply(self, event: dict) -> None:
        data = event.get("data", {})
        if event.get("type") == "course.deleted":
            self.delete_where("course_id", data["courseId"])
        elif event.get("type") == "file.deleted":
            self.delete_where("file_id", data["fileId"])

    def delete_where(self, field: str, value: str) -> None:
        self.qdrant.delete(
            collection_name=self.collection,
            points_selector=models.FilterSelector(
                filter=models.Filter(
                    must=[models.FieldCondition(key=field, match=models.MatchValue(value=value))]
                )
            ),
            wait=True,
        )
        log.info("deleted the points of %s=%s", field, value)


def make_server(receiver: Receiver, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                self.send_response(413)
                self.end_headers()
                return
            body = self.rfile.read(length)
            try:
                status = receiver.handle(body, dict(self.headers.items()))
            except Exception:  # Qdrant down, a malformed event: draftd retries.
                log.exception("could not process the event")
                status = 500
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            log.debug(format, *args)

    return ThreadingHTTPServer((host, port), Handler)


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    secrets = [s.strip() for s in os.environ["WEBHOOK_SECRETS"].split(",") if s.strip()]
    qdrant = QdrantClient(url=os.environ.get("QDRANT_URL", "http://localhost:6333"))
    receiver = Receiver(qdrant, os.environ.get("QDRANT_COLLECTION", "course_chunks"), secrets)
    server = make_server(receiver, os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8099")))
    log.info("listening on %s:%s", *server.server_address[:2])
    server.serve_forever()


if __name__ == "__main__":
    main()
