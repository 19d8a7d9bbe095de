-- The stores of openbanking-server, in one SQLite file. Times are whole microseconds since the
-- Unix epoch (UTC); values the server only reads back whole are JSON text; credentials are kept
-- only as their SHA-256 (base64url).

-- ConsentStore: the filters and the listing order are columns, the consent is the JSON `body`.
CREATE TABLE consents (
    consent_id TEXT NOT NULL PRIMARY KEY,
    client_id  TEXT NOT NULL,
    psu_id     TEXT,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL
) STRICT;
CREATE INDEX consents_by_created ON consents (created_at, consent_id);
CREATE INDEX consents_by_psu ON consents (psu_id, created_at, consent_id);
CREATE INDEX consents_by_client ON consents (client_id, created_at, consent_id);

-- ClientStore.
CREATE TABLE clients (
    client_id TEXT NOT NULL PRIMARY KEY,
    body      TEXT NOT NULL
) STRICT;

-- ArtifactStore: pushed requests (kind 'pushed_request') and interactions ('interaction').
CREATE TABLE artifacts (
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    body       TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
) STRICT;
CREATE INDEX artifacts_by_expiry ON artifacts (kind, expires_at);

-- AuthorizationCodeStore: a used code stays until purge_at (an hour past expiry) so that a late
-- replay still revokes.
CREATE TABLE codes (
    hash       TEXT NOT NULL PRIMARY KEY,
    grant_body TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),
    purge_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX codes_by_purge ON codes (purge_at);

-- RefreshTokenStore: one row per family (its current token, and the previous one with when it
-- was superseded), every token it issued, and the access tokens issued from it.
CREATE TABLE refresh_families (
    id            TEXT NOT NULL PRIMARY KEY,
    consent_id    TEXT,
    body          TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked       INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    current_hash  TEXT NOT NULL,
    previous_hash TEXT,
    previous_at   INTEGER,
    purge_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX refresh_families_by_consent ON refresh_families (consent_id);
CREATE INDEX refresh_families_by_purge ON refresh_families (purge_at);
CREATE TABLE refresh_tokens (
    hash      TEXT NOT NULL PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE
) STRICT;
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE TABLE refresh_access_tokens (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    family_id TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    jti       TEXT NOT NULL,
    exp       INTEGER NOT NULL
) STRICT;
CREATE INDEX refresh_access_tokens_by_family ON refresh_access_tokens (family_id, seq);

-- RevocationStore: kept until purge_at (the token's exp plus a minute of leeway).
CREATE TABLE revocations (
    jti      TEXT NOT NULL PRIMARY KEY,
    purge_at INTEGER NOT NULL
) STRICT;
CREATE INDEX revocations_by_purge ON revocations (purge_at);

-- ReplayCache: a key is live until expires_at, inclusive.
CREATE TABLE replay (
    key        TEXT NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX replay_by_expiry ON replay (expires_at);

-- SessionStore.
CREATE TABLE sessions (
    id         TEXT NOT NULL PRIMARY KEY,
    body       TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
