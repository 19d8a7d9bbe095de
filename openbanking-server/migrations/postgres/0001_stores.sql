-- The stores of openbanking-server, in one PostgreSQL schema (the search_path of every pooled
-- connection). Times are whole microseconds since the Unix epoch (UTC); values the server only
-- reads back whole are JSON text; credentials are kept only as their SHA-256 (base64url).

-- ConsentStore: the filters and the listing order are columns, the consent is the JSON `body`.
-- consent_id sorts bytewise (COLLATE "C"), as ConsentId does, whatever the database's locale.
CREATE TABLE consents (
    consent_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_id  TEXT NOT NULL,
    psu_id     TEXT,
    status     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX consents_by_created ON consents (created_at, consent_id);
CREATE INDEX consents_by_psu ON consents (psu_id, created_at, consent_id);
CREATE INDEX consents_by_client ON consents (client_id, created_at, consent_id);

-- ClientStore.
CREATE TABLE clients (
    client_id TEXT NOT NULL PRIMARY KEY,
    body      TEXT NOT NULL
);

-- ArtifactStore: pushed requests (kind 'pushed_request') and interactions ('interaction').
CREATE TABLE artifacts (
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    body       TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX artifacts_by_expiry ON artifacts (kind, expires_at);

-- AuthorizationCodeStore: a used code stays until purge_at (an hour past expiry) so that a late
-- replay still revokes.
CREATE TABLE codes (
    hash       TEXT NOT NULL PRIMARY KEY,
    grant_body TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used       BOOLEAN NOT NULL DEFAULT FALSE,
    purge_at   BIGINT NOT NULL
);
CREATE INDEX codes_by_purge ON codes (purge_at);

-- RefreshTokenStore: one row per family (its current token, and the previous one with when it
-- was superseded), every token it issued, and the access tokens issued from it.
CREATE TABLE refresh_families (
    id            TEXT NOT NULL PRIMARY KEY,
    consent_id    TEXT,
    body          TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked       BOOLEAN NOT NULL DEFAULT FALSE,
    current_hash  TEXT NOT NULL,
    previous_hash TEXT,
    previous_at   BIGINT,
    purge_at      BIGINT NOT NULL
);
CREATE INDEX refresh_families_by_consent ON refresh_families (consent_id);
CREATE INDEX refresh_families_by_purge ON refresh_families (purge_at);
CREATE TABLE refresh_tokens (
    hash      TEXT NOT NULL PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE TABLE refresh_access_tokens (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    jti       TEXT NOT NULL,
    exp       BIGINT NOT NULL
);
CREATE INDEX refresh_access_tokens_by_family ON refresh_access_tokens (family_id, seq);

-- RevocationStore: kept until purge_at (the token's exp plus a minute of leeway).
CREATE TABLE revocations (
    jti      TEXT NOT NULL PRIMARY KEY,
    purge_at BIGINT NOT NULL
);
CREATE INDEX revocations_by_purge ON revocations (purge_at);

-- ReplayCache: a key is live until expires_at, inclusive.
CREATE TABLE replay (
    key        TEXT NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX replay_by_expiry ON replay (expires_at);

-- SessionStore.
CREATE TABLE sessions (
    id         TEXT NOT NULL PRIMARY KEY,
    body       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
