-- Events: one row per event. `position` is the global order of insertion; `tx_id` is the
-- writing transaction, so that catch-up readers can wait for transactions still in flight.
CREATE TABLE events (
    position       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id          XID8        NOT NULL DEFAULT pg_current_xact_id(),
    stream_id      TEXT        NOT NULL,
    version        BIGINT      NOT NULL,
    event_id       UUID        NOT NULL,
    event_type     TEXT        NOT NULL,
    schema_version INTEGER     NOT NULL,
    payload        BYTEA       NOT NULL,
    metadata       TEXT        NOT NULL DEFAULT '{}',
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT events_stream_version UNIQUE (stream_id, version),
    CONSTRAINT events_event_id UNIQUE (event_id)
);
CREATE INDEX events_tx_position ON events (tx_id, position);

-- Integration messages written in the same transaction as the events; the relay publishes
-- them and sets `sent_at`.
CREATE TABLE outbox (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  TEXT        NOT NULL,
    subject     TEXT        NOT NULL,
    payload     BYTEA       NOT NULL,
    headers     TEXT        NOT NULL DEFAULT '[]',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at     TIMESTAMPTZ,
    CONSTRAINT outbox_message_id UNIQUE (message_id)
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- Message ids a consumer has processed, written in the consumer's transaction.
CREATE TABLE inbox (
    consumer     TEXT        NOT NULL,
    message_id   TEXT        NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- Poison messages a consumer gave up on, kept so that nothing is silently dropped.
CREATE TABLE parked_messages (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer    TEXT        NOT NULL,
    message_id  TEXT        NOT NULL,
    subject     TEXT        NOT NULL,
    payload     BYTEA       NOT NULL,
    headers     TEXT        NOT NULL DEFAULT '[]',
    deliveries  BIGINT      NOT NULL,
    reason      TEXT        NOT NULL,
    parked_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX parked_messages_consumer ON parked_messages (consumer, id);

-- The latest snapshot of a long stream.
CREATE TABLE snapshots (
    stream_id      TEXT        PRIMARY KEY,
    version        BIGINT      NOT NULL,
    schema_version INTEGER     NOT NULL,
    payload        BYTEA       NOT NULL,
    taken_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
