-- Unsent outbox rows are listed by id in a small table of their own: enqueue inserts the id in
-- the same statement as the row, marking sent deletes it. The outbox row itself is written once
-- and never updated, so marking sent no longer writes new versions of the (wide) outbox rows
-- and new entries in its primary key and message id indexes, as the UPDATE of `sent_at` did
-- (`sent_at` took part in the partial index `outbox_unsent`, so the update could not be HOT).
CREATE TABLE outbox_pending (
    id BIGINT PRIMARY KEY
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);

INSERT INTO outbox_pending (id) SELECT id FROM outbox WHERE sent_at IS NULL;

DROP INDEX outbox_unsent;

-- `sent_at` keeps the time of rows sent before this migration; a row is unsent exactly while
-- its id is in `outbox_pending`.
COMMENT ON COLUMN outbox.sent_at IS
    'set only for rows sent before migration 2; unsent = id in outbox_pending';
