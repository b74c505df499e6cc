-- Agent state changes, one row each; metrics derive from these. Times are Unix milliseconds.
-- States are the configured status name or a system state (Incoming, Busy, AfterContactWork,
-- Missed, Monitoring); reason is the agent module's ChangeReason word. Rows are only appended:
-- an identity never reuses an id, so an id is a stable pagination cursor.
CREATE TABLE agent_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_unix_ms BIGINT NOT NULL,
    username   TEXT   NOT NULL CHECK (username <> ''),
    from_state TEXT   NOT NULL,
    to_state   TEXT   NOT NULL CHECK (to_state <> ''),
    reason     TEXT   NOT NULL,
    contact_id TEXT   CHECK (length(contact_id) = 36)
);

CREATE INDEX agent_events_username_at ON agent_events (username, at_unix_ms);
CREATE INDEX agent_events_at ON agent_events (at_unix_ms);
