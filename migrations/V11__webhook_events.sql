-- Lifecycle events for downstream systems (a vector store, a RAG cache, the
-- generation pipeline). While DRAFTD_WEBHOOK_URL is set, the service's
-- connections carry the setting draftd.events = on, and every change records
-- its event here in the change's own transaction; the webhook worker delivers
-- them, in order per course.

-- When the course's course.materialized was recorded. NULL: never announced
-- (a degraded-mode draft row not yet materialized, or a course made while
-- events were off). A course's other events are recorded only once it is
-- announced, and its course.deleted only if it was.
ALTER TABLE courses ADD COLUMN announced_at timestamptz;

CREATE TABLE webhook_events (
    -- Drawn while the change holds its course row's lock, so a course's
    -- events are numbered in the order their transactions commit.
    id              bigserial   PRIMARY KEY,
    -- The webhook-id header: the same on every delivery of the event.
    webhook_id      uuid        NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    course_id       uuid        NOT NULL,
    type            text        NOT NULL CHECK (type IN ('course.materialized',
                        'course.submitted', 'course.trashed', 'course.restored',
                        'course.deleted', 'file.uploaded', 'file.deleted')),
    -- courseId, organizationId, userId, draftSessionId, status (, fileId)
    data            jsonb       NOT NULL,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    -- Due time of a pending event; while an attempt runs, the end of its lease.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    delivered_at    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- A course's undelivered events in order: is an event its course's first?
CREATE INDEX webhook_events_course_idx ON webhook_events (course_id, id)
    WHERE status <> 'delivered';
-- The worker's due events.
CREATE INDEX webhook_events_due_idx ON webhook_events (next_attempt_at, id)
    WHERE status = 'pending';
CREATE INDEX webhook_events_delivered_idx ON webhook_events (delivered_at)
    WHERE status = 'delivered';
