-- AuthorizationCodeStore: the client a code was issued to, as a column, so that redeeming is one
-- conditional statement on "unused, unexpired, and this client's" (another client holding a
-- leaked code can't spend it). Codes live a minute: those already stored get theirs from the
-- grant.
ALTER TABLE codes ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
UPDATE codes SET client_id = json_extract(grant_body, '$.client_id');
