-- The replay keys of a file held by one process (SqliteStores::open_exclusive, src/store/sqlite/
-- logged_replay.rs). That process alone can write the file, so it decides "seen before" from memory
-- and appends each key it accepts here, committed before the request is answered; at the next
-- start it reads them back. No unique index on `key`: a random key's insert into one dirtied a page
-- of its own, which was most of the cost of a request. `expires_at` is indexed for the purge (keys
-- arrive in about the order they expire, so this index grows at its end).
--
-- A file opened for several processes (SqliteStores::open) uses the `replay` table, and folds into
-- it whatever this log still holds when it opens.
CREATE TABLE replay_log (
    key        TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX replay_log_by_expiry ON replay_log (expires_at);
