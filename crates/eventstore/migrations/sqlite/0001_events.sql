-- Events: one row per event; `position` is the global order, which on SQLite (one writer at
-- a time) is also the commit order.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id      TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    event_id       BLOB    NOT NULL,
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    payload        BLOB    NOT NULL,
    metadata       TEXT    NOT NULL DEFAULT '{}',
    recorded_at    TEXT    NOT NULL,
    CONSTRAINT events_stream_version UNIQUE (stream_id, version),
    CONSTRAINT events_event_id UNIQUE (event_id)
);

CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT    NOT NULL UNIQUE,
    subject     TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    headers     TEXT    NOT NULL DEFAULT '[]',
    created_at  TEXT    NOT NULL,
    sent_at     TEXT
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

CREATE TABLE inbox (
    consumer     TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (consumer, message_id)
) WITHOUT ROWID;

CREATE TABLE parked_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    consumer    TEXT    NOT NULL,
    message_id  TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    headers     TEXT    NOT NULL DEFAULT '[]',
    deliveries  INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    parked_at   TEXT    NOT NULL
);
CREATE INDEX parked_messages_consumer ON parked_messages (consumer, id);

CREATE TABLE snapshots (
    stream_id      TEXT    PRIMARY KEY,
    version        INTEGER NOT NULL,
    schema_version INTEGER NOT NULL,
    payload        BLOB    NOT NULL,
    taken_at       TEXT    NOT NULL
);
