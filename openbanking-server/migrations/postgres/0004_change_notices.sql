-- Every change of a row that instances keep in memory (a consent, a client, a token's
-- revocation) is announced to every instance listening on the channel `openbanking_changes`
-- (LISTEN/NOTIFY), delivered when the change commits, so that each drops what it kept of the row
-- (src/store/cache.rs, src/store/postgres/listen.rs). A trigger, not the application, sends it:
-- a change made by any statement, an integrator's own included, is heard.
--
-- The payload is `schema:table:key`: deployments sharing one database in other schemas hear
-- each other's notices and ignore them.
--
-- A new consent or client needs no notice: instances keep only the consents and clients they
-- found, never an absence (their ids are random, so a read before the insert is no hot path).
-- A revocation does: that a token is not revoked is the answer instances keep for every data call.
-- A notice costs its commit a turn on the server's one notification queue, so the writes that
-- notify (a consent's status change, a client's update, a revocation) take turns committing.
CREATE FUNCTION openbanking_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed_key TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed_key := to_jsonb(OLD) ->> TG_ARGV[0];
    ELSE
        changed_key := to_jsonb(NEW) ->> TG_ARGV[0];
    END IF;
    PERFORM pg_notify('openbanking_changes', TG_TABLE_SCHEMA || ':' || TG_TABLE_NAME || ':' || changed_key);
    RETURN NULL;
END
$$;

CREATE TRIGGER consents_announce_change AFTER UPDATE OR DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION openbanking_announce_change('consent_id');
CREATE TRIGGER clients_announce_change AFTER UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION openbanking_announce_change('client_id');
CREATE TRIGGER revocations_announce_change AFTER INSERT OR UPDATE OR DELETE ON revocations
    FOR EACH ROW EXECUTE FUNCTION openbanking_announce_change('jti');
