-- Receipts you can prove: a rolled-back decision leaves a receipt marked
-- committed = false, the operator seals receipts into each tenant's hash
-- chain, a tenant verifies its own chain, and each way a superuser can tamper
-- with the record is reported.
\set VERBOSITY terse
\c - postgres
GRANT EXECUTE ON FUNCTION authensor.seal_receipts(), authensor.verify_all_receipts() TO authensor_operator;

-- Decisions: three committed, one rolled back with its transaction, one
-- rolled back to a savepoint.
\c - agent_app
SET authensor.tenant_id = 'chain-a';
SELECT action FROM authensor.evaluate('file.read', '{"path": "/a", "n": 1.0}');
SELECT action FROM authensor.evaluate('email.send', '{"to": "x@example.com"}');
BEGIN;
SELECT action FROM authensor.evaluate('shell.execute', '{"cmd": "rm -rf /"}');
ROLLBACK;
BEGIN;
SELECT action FROM authensor.evaluate('file.read', '{"path": "/b"}');
SAVEPOINT s;
SELECT action FROM authensor.evaluate('file.read', '{"path": "/secret"}');
ROLLBACK TO SAVEPOINT s;
COMMIT;
-- The receipts of rolled-back decisions are written by the next transaction
-- this connection commits (the COMMIT above wrote the first).
SELECT 'the next transaction writes them' AS note;
SELECT tool, args ->> 'path' AS path, action, committed
  FROM authensor.receipts ORDER BY recorded_at;

-- Agents and tenants may not seal; the operator does.
SELECT authensor.seal_receipts();
\c - authensor_operator
SELECT authensor.seal_receipts() >= 5 AS sealed;
-- Even the operator may not seal or verify every tenant in a transaction
-- bound to an agent key, and a search_path of its own changes nothing.
SELECT authensor.create_api_key('chain-a', 'chain agent') AS chain_key \gset
BEGIN;
SELECT authensor.authenticate(:'chain_key') AS tenant;
SAVEPOINT s;
SELECT authensor.seal_receipts();
ROLLBACK TO s;
SELECT count(*) FROM authensor.verify_all_receipts();
ROLLBACK;
CREATE TEMP TABLE receipt_links (tenant_id text, seq bigint);
SET search_path = pg_temp, public;
SELECT authensor.seal_receipts() >= 0 AS sealed_with_a_temp_table_in_the_way;
RESET search_path;
\c - agent_app
SET authensor.tenant_id = 'chain-a';
SELECT seq, length(hash) AS hash_length FROM authensor.chain_head();
SELECT checked, unsealed, problems, problem, head_seq FROM authensor.verify_receipts();
SELECT seq FROM authensor.receipt_links ORDER BY seq;
-- Another tenant sees nothing of it.
SET authensor.tenant_id = 'chain-b';
SELECT count(*) AS links_seen FROM authensor.receipt_links;
SELECT count(*) AS heads_seen FROM authensor.chain_head();
SELECT count(*) AS exported FROM authensor.export_receipts();

-- A second seal gives the first one's time as the horizon: receipts recorded
-- before it and still unsealed can only have been put there by hand.
\c - authensor_operator
SELECT authensor.seal_receipts() >= 0 AS sealed_again;
\c - agent_app
SET authensor.tenant_id = 'chain-a';
SELECT seq AS kept_seq, hash AS kept_hash FROM authensor.chain_head() \gset
SELECT count(*) AS exported, bool_and(e ? 'leaf' AND e ? 'link' AND e ? 'prev') AS with_chain_fields
  FROM authensor.export_receipts() AS e;
SELECT checked, problems FROM authensor.verify_receipts(:kept_seq, :'kept_hash');

-- Tampering, each as a superuser with the append-only triggers disabled, and
-- each undone afterwards. The receipt reported is the one tampered with.
\c - postgres
CREATE FUNCTION pg_temp.receipt_at(seq bigint) RETURNS uuid LANGUAGE sql AS
$$ SELECT receipt_id FROM authensor.receipt_links WHERE tenant_id = 'chain-a' AND receipt_links.seq = $1 $$;
CREATE FUNCTION pg_temp.report() RETURNS TABLE (problems bigint, first_seq bigint, problem text, unsealed bigint,
                                                first_receipt uuid)
LANGUAGE sql AS
$$ SELECT problems, first_seq, problem, unsealed, first_receipt FROM authensor.verify_all_receipts() WHERE tenant_id = 'chain-a' $$;

-- An argument changed.
BEGIN;
ALTER TABLE authensor.receipts DISABLE TRIGGER receipts_append_only;
UPDATE authensor.receipts SET args = '{"to": "attacker@example.com"}' WHERE id = pg_temp.receipt_at(2);
SELECT problems, first_seq, problem, first_receipt = pg_temp.receipt_at(2) AS that_receipt FROM pg_temp.report();
ROLLBACK;

-- A receipt deleted.
BEGIN;
ALTER TABLE authensor.receipts DISABLE TRIGGER receipts_append_only;
DELETE FROM authensor.receipts WHERE id = pg_temp.receipt_at(3);
SELECT problems, first_seq, problem, first_receipt = pg_temp.receipt_at(3) AS that_receipt FROM pg_temp.report();
ROLLBACK;

-- A receipt forged among the old ones.
BEGIN;
INSERT INTO authensor.receipts (id, tenant_id, created_at, tool, args, context, action, reason, layer, recorded_at)
VALUES ('00000000-0000-7000-8000-00000000f0f0', 'chain-a', '2026-01-01', 'email.send', '{}',
        '{"tenantId": "chain-a"}', 'allow', 'forged', 'tenant', '2026-01-01');
SELECT problems, first_seq, problem, unsealed,
       first_receipt = '00000000-0000-7000-8000-00000000f0f0' AS that_receipt FROM pg_temp.report();
ROLLBACK;

-- Two receipts that traded places in the chain (through a third id, since
-- each receipt is sealed once).
SELECT pg_temp.receipt_at(2) AS second, pg_temp.receipt_at(3) AS third \gset
BEGIN;
ALTER TABLE authensor.receipt_links DISABLE TRIGGER receipt_links_append_only;
UPDATE authensor.receipt_links SET receipt_id = gen_random_uuid() WHERE receipt_id = :'second';
UPDATE authensor.receipt_links SET receipt_id = :'second' WHERE receipt_id = :'third';
UPDATE authensor.receipt_links SET receipt_id = :'third' WHERE tenant_id = 'chain-a' AND seq = 2;
SELECT problems, first_seq, problem, first_receipt = :'third' AS that_receipt FROM pg_temp.report();
ROLLBACK;

-- The newest link removed: alone the chain still verifies, but not against
-- the head the tenant kept.
BEGIN;
ALTER TABLE authensor.receipt_links DISABLE TRIGGER receipt_links_append_only;
DELETE FROM authensor.receipt_links WHERE tenant_id = 'chain-a' AND seq = :kept_seq;
SET LOCAL authensor.tenant_id = 'chain-a';
SELECT problems, first_seq, problem FROM authensor.verify_receipts(:kept_seq, :'kept_hash') WHERE tenant_id = 'chain-a';
ROLLBACK;

-- Untouched, the chain verifies clean.
SELECT problems, problem, unsealed FROM pg_temp.report();

-- A seal needs a snapshot of its own.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT authensor.seal_receipts();
ROLLBACK;

-- A BEFORE trigger may not mark a decision as rolled back, nor change what
-- it records.
BEGIN;
CREATE FUNCTION pg_temp.uncommit() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.committed := false; RETURN NEW; END $$;
CREATE TRIGGER uncommit BEFORE INSERT ON authensor.receipts FOR EACH ROW EXECUTE FUNCTION pg_temp.uncommit();
SET LOCAL authensor.tenant_id = 'chain-a';
SELECT action FROM authensor.evaluate('file.read');
ROLLBACK;
BEGIN;
CREATE FUNCTION pg_temp.reargue() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.args := '{"path": "/elsewhere"}'; RETURN NEW; END $$;
CREATE TRIGGER reargue BEFORE INSERT ON authensor.receipts FOR EACH ROW EXECUTE FUNCTION pg_temp.reargue();
SET LOCAL authensor.tenant_id = 'chain-a';
SELECT action FROM authensor.evaluate('file.read', '{"path": "/a"}');
ROLLBACK;
BEGIN;
CREATE FUNCTION pg_temp.backdate() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.recorded_at := '2000-01-01'; RETURN NEW; END $$;
CREATE TRIGGER backdate BEFORE INSERT ON authensor.receipts FOR EACH ROW EXECUTE FUNCTION pg_temp.backdate();
SET LOCAL authensor.tenant_id = 'chain-a';
SELECT action FROM authensor.evaluate('file.read');
ROLLBACK;
-- Nor claim a shadow version the decision was not evaluated under, by a
-- trigger or by a column default.
BEGIN;
CREATE FUNCTION pg_temp.claim_shadow() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.shadow_action := 'block'; RETURN NEW; END $$;
CREATE TRIGGER claim_shadow BEFORE INSERT ON authensor.receipts FOR EACH ROW EXECUTE FUNCTION pg_temp.claim_shadow();
SET LOCAL authensor.tenant_id = 'chain-a';
SELECT action FROM authensor.evaluate('file.read');
ROLLBACK;
BEGIN;
ALTER TABLE authensor.receipts ALTER COLUMN shadow_tenant_version SET DEFAULT 7;
SET LOCAL authensor.tenant_id = 'chain-a';
SELECT (authensor.evaluate('file.read')).receipt_id AS defaulted \gset
SELECT shadow_tenant_version, shadow_action FROM authensor.receipts WHERE id = :'defaulted';
ROLLBACK;

-- A session keeps at most 10,000 receipts until they commit or are written
-- again: the next decision is refused, and a commit lets it go on.
\c - agent_app
SET authensor.tenant_id = 'chain-c';
BEGIN;
SELECT count(authensor.evaluate('file.read')) FROM generate_series(1, 10000);
SELECT action FROM authensor.evaluate('file.read');
ROLLBACK;
-- The 10,000 rolled back wait for this connection's next commit.
SELECT action FROM authensor.evaluate('file.read');
SELECT 'this commit writes them' AS note;
SELECT action FROM authensor.evaluate('file.read');
SELECT count(*) FILTER (WHERE committed) AS committed, count(*) FILTER (WHERE NOT committed) AS rolled_back
  FROM authensor.receipts;
\c - postgres

-- Arguments checked.
SET authensor.tenant_id = 'chain-a';
SELECT * FROM authensor.verify_receipts(1, 'not hex');
SELECT * FROM authensor.verify_receipts(1);
SELECT * FROM authensor.verify_receipts(0, repeat('0', 64));
