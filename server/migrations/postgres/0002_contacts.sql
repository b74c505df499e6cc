-- Contact records, after Amazon Connect's contact trace records: one row per contact, written as
-- the contact progresses and closed when it ends. Times are Unix milliseconds, durations
-- milliseconds. Ids are lowercase hyphenated UUIDs; initial/previous/next link the contacts of
-- one customer interaction across transfers. Vocabularies (initiation_method, channel,
-- disconnect_reason) are checked by the store's Rust enums, not here, so they can grow without a
-- table rebuild. attributes is a JSON object of string values.
--
-- contact_id sorts bytewise (COLLATE "C"), as in SQLite, so both backends page in one order.
CREATE TABLE contacts (
    contact_id              TEXT COLLATE "C" NOT NULL PRIMARY KEY CHECK (length(contact_id) = 36),
    initial_contact_id      TEXT   CHECK (length(initial_contact_id) = 36),
    previous_contact_id     TEXT   CHECK (length(previous_contact_id) = 36),
    next_contact_id         TEXT   CHECK (length(next_contact_id) = 36),
    initiation_method       TEXT   NOT NULL CHECK (initiation_method <> ''),
    channel                 TEXT   NOT NULL CHECK (channel <> ''),
    customer_endpoint       TEXT,
    system_endpoint         TEXT,
    initiation_unix_ms      BIGINT NOT NULL,
    enqueue_unix_ms         BIGINT,
    queue                   TEXT,
    agent_connected_unix_ms BIGINT,
    agent_username          TEXT,
    connection_attempts     BIGINT NOT NULL CHECK (connection_attempts >= 0),
    disconnect_unix_ms      BIGINT,
    disconnect_reason       TEXT,
    hold_count              BIGINT NOT NULL CHECK (hold_count >= 0),
    hold_duration_ms        BIGINT NOT NULL CHECK (hold_duration_ms >= 0),
    acw_duration_ms         BIGINT CHECK (acw_duration_ms >= 0),
    attributes              JSONB  NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    recording_path          TEXT,
    recording_duration_ms   BIGINT CHECK (recording_duration_ms >= 0),
    flow_name               TEXT,
    flow_version            TEXT,
    updated_at_unix_ms      BIGINT NOT NULL
);

-- Searches are time ranges ordered by (initiation time, id), optionally for one queue or agent;
-- the id in each index makes the keyset cursor an index seek.
CREATE INDEX contacts_initiation ON contacts (initiation_unix_ms, contact_id);
CREATE INDEX contacts_queue ON contacts (queue, initiation_unix_ms, contact_id)
    WHERE queue IS NOT NULL;
CREATE INDEX contacts_agent ON contacts (agent_username, initiation_unix_ms, contact_id)
    WHERE agent_username IS NOT NULL;
