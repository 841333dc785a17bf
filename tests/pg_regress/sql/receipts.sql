-- Receipts are appended by the extension without an INSERT statement. What an
-- operator adds to authensor.receipts still applies to them as to an INSERT:
-- column defaults, BEFORE and AFTER row triggers, and CHECK constraints. Each
-- case alters the table inside a transaction that is rolled back.
\set VERBOSITY default

-- A column with a default, a column a BEFORE trigger fills, and an AFTER
-- trigger that forwards each receipt.
BEGIN;
ALTER TABLE authensor.receipts ADD COLUMN region text DEFAULT 'eu-' || 'west';
ALTER TABLE authensor.receipts ADD COLUMN note text;
CREATE TABLE public.forwarded (receipt_id uuid, tenant_id text, tool text);
GRANT SELECT ON public.forwarded TO agent_app;
-- Triggers run as the role that called evaluate(), as for its own INSERT:
-- one that writes elsewhere runs with its owner's rights (SECURITY DEFINER).
CREATE FUNCTION public.tag_receipt() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.note := 'seen ' || NEW.tool; RETURN NEW; END $$;
CREATE FUNCTION public.forward_receipt() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog AS
$$ BEGIN INSERT INTO public.forwarded VALUES (NEW.id, NEW.tenant_id, NEW.tool); RETURN NULL; END $$;
CREATE TRIGGER tag BEFORE INSERT ON authensor.receipts
    FOR EACH ROW EXECUTE FUNCTION public.tag_receipt();
CREATE TRIGGER forward AFTER INSERT ON authensor.receipts
    FOR EACH ROW EXECUTE FUNCTION public.forward_receipt();
SET LOCAL ROLE agent_app;
SET LOCAL authensor.tenant_id = 'tenant-a';
CREATE TEMP TABLE written AS
SELECT receipt_id FROM authensor.evaluate('file.read', '{"path": "/a"}');
SELECT r.region, r.note, f.tenant_id, f.tool, f.receipt_id = w.receipt_id AS forwarded_same_receipt
  FROM written w
  JOIN authensor.receipts r ON r.id = w.receipt_id
  JOIN public.forwarded f ON f.receipt_id = r.id;
ROLLBACK;

-- A CHECK constraint the receipt breaks: a clean 23514, and no receipt. This
-- session has already written receipts under the table's own constraints, so
-- this also shows that a constraint added since is enforced at once.
BEGIN;
ALTER TABLE authensor.receipts ADD CONSTRAINT no_forbidden CHECK (tool <> 'forbidden.tool');
SET LOCAL ROLE agent_app;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT action FROM authensor.evaluate('allowed.tool');
SELECT count(*) AS receipts_before FROM authensor.receipts \gset
SAVEPOINT refused;
\set VERBOSITY terse
SELECT action FROM authensor.evaluate('forbidden.tool');
\set VERBOSITY default
\echo sqlstate :LAST_ERROR_SQLSTATE
ROLLBACK TO refused;
SELECT count(*) - :receipts_before AS receipts_added FROM authensor.receipts;
-- The same transaction goes on writing receipts after the caught error.
SELECT action, receipt_id IS NOT NULL AS has_receipt FROM authensor.evaluate('allowed.tool');
SELECT count(*) - :receipts_before AS receipts_added FROM authensor.receipts;
ROLLBACK;

-- A column changed to a type the extension does not write: an ERROR that
-- names it, never a row holding a value of the wrong type.
BEGIN;
ALTER TABLE authensor.receipts ALTER COLUMN platform_version TYPE bigint;
SET LOCAL ROLE agent_app;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT action FROM authensor.evaluate('file.read');
\echo sqlstate :LAST_ERROR_SQLSTATE
ROLLBACK;

-- The table as shipped writes again.
SET ROLE agent_app;
SET authensor.tenant_id = 'tenant-a';
SELECT action, receipt_id IS NOT NULL AS has_receipt FROM authensor.evaluate('file.read');
RESET authensor.tenant_id;
RESET ROLE;

-- The extension dropped and created again in a session that has written
-- receipts: its new table (a new relation, new constraints) is written to.
BEGIN;
SET LOCAL authensor.allow_drop = on;   -- receipts exist (see drop_guard.sql)
DROP EXTENSION authensor CASCADE;
CREATE EXTENSION authensor;
SELECT authensor.publish_platform_policy('rules: []') AS platform_version;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT authensor.publish_policy('default: allow') AS tenant_version;
SELECT action, layer, tenant_version FROM authensor.evaluate('file.read');
SELECT count(*) AS receipts FROM authensor.receipts;
ROLLBACK;

-- A BEFORE trigger that changes the id: evaluate() returns the id stored.
BEGIN;
CREATE FUNCTION public.renumber_receipt() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.id := '00000000-0000-7000-8000-000000000001'; RETURN NEW; END $$;
CREATE TRIGGER renumber BEFORE INSERT ON authensor.receipts
    FOR EACH ROW EXECUTE FUNCTION public.renumber_receipt();
SET LOCAL ROLE agent_app;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT receipt_id FROM authensor.evaluate('file.read');
SELECT count(*) AS stored_under_that_id FROM authensor.receipts
 WHERE id = '00000000-0000-7000-8000-000000000001';
ROLLBACK;

-- A BEFORE trigger that skips the row: no receipt, so no decision (an ERROR).
BEGIN;
CREATE FUNCTION public.skip_receipt() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER skip BEFORE INSERT ON authensor.receipts
    FOR EACH ROW EXECUTE FUNCTION public.skip_receipt();
SET LOCAL ROLE agent_app;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT action FROM authensor.evaluate('file.read');
\echo sqlstate :LAST_ERROR_SQLSTATE
ROLLBACK;
