-- The issuer's signing keys and the secrets every instance must share (KeyStore, in
-- src/store/keys.rs). Private keys are PKCS#8 v1 DER, base64: a copy of this table can sign as
-- the issuer, so protect the database file as the keys themselves.

-- One row per key; the one with no `retired_at` signs, the others keep verifying (published in
-- the JWKS) until the tokens they signed have expired.
CREATE TABLE signing_keys (
    kid         TEXT NOT NULL PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
) STRICT;
-- At most one active key, whatever instances start or rotate at once.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

-- Named random secrets (the DPoP nonce secret), created once, base64.
CREATE TABLE server_secrets (
    name       TEXT NOT NULL PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
