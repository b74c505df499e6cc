-- SIP registrations (RFC 3261 §10; RFC 5626 §6 flows). One row per (address-of-record user,
-- Contact URI). Times are Unix milliseconds; a row is live while expires_at_unix_ms > now.
CREATE TABLE bindings (
    username           TEXT             NOT NULL CHECK (username <> ''),
    contact            TEXT             NOT NULL CHECK (contact <> ''),
    instance_id        TEXT,
    reg_id             BIGINT,
    expires_at_unix_ms BIGINT           NOT NULL,
    call_id            TEXT             NOT NULL,
    cseq               BIGINT           NOT NULL CHECK (cseq >= 0),
    source             TEXT             NOT NULL,
    user_agent         TEXT,
    q                  DOUBLE PRECISION CHECK (q IS NULL OR (q >= 0.0 AND q <= 1.0)),
    updated_at_unix_ms BIGINT           NOT NULL,
    PRIMARY KEY (username, contact)
);

-- RFC 5626: at most one binding per (user, +sip.instance, reg-id) flow.
CREATE UNIQUE INDEX bindings_flow ON bindings (username, instance_id, reg_id)
    WHERE instance_id IS NOT NULL AND reg_id IS NOT NULL;

CREATE INDEX bindings_expires_at ON bindings (expires_at_unix_ms);
