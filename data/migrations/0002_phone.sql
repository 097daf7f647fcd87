-- palaver schema, version 2: phone login with one-time codes.

-- A phone-only user's number is kept here, in E.164, and nowhere a
-- stranger sees it; their password hash is one that never verifies.
-- UNIQUE through an index: ALTER TABLE cannot add a UNIQUE column.
ALTER TABLE users ADD COLUMN phone TEXT;
CREATE UNIQUE INDEX users_phone ON users(phone) WHERE phone IS NOT NULL;

-- At most one code per phone: a new request replaces it. The row stays
-- after use or exhaustion so a later try learns why it failed; only the
-- HMAC of the code is kept.
CREATE TABLE phone_codes (
    phone          TEXT    PRIMARY KEY,
    code_hash      BLOB    NOT NULL,
    expires_at     INTEGER NOT NULL,
    attempts_left  INTEGER NOT NULL,
    used_at        INTEGER,
    created_at     INTEGER NOT NULL
) WITHOUT ROWID;

-- A device id belongs to one phone number for good (403 for any other).
CREATE TABLE phone_devices (
    device_id    TEXT    PRIMARY KEY,
    phone        TEXT    NOT NULL,
    device_type  TEXT,
    bound_at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX phone_devices_phone ON phone_devices(phone, bound_at);

-- SMS not yet delivered. A row is written in the same transaction as its
-- code and deleted once the gateway took it, so a crash or an outage only
-- delays it. Rows past expires_at are dropped unsent: their code is dead.
CREATE TABLE sms_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    phone            TEXT    NOT NULL,
    text             TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    created_at       INTEGER NOT NULL
);
CREATE INDEX sms_outbox_due ON sms_outbox(next_attempt_at);

-- Random keys the server makes once and keeps (e.g. the key of the code HMAC).
CREATE TABLE server_secrets (
    name   TEXT PRIMARY KEY,
    value  BLOB NOT NULL
) WITHOUT ROWID;
