-- Retention by month: receipts and their links are partitioned by month of
-- recorded_at; add_receipt_partitions() makes the months' partitions and
-- moves rows waiting in the default partitions to them; prune_receipts()
-- drops whole sealed months and leaves each tenant a checkpoint from which
-- its chain still verifies. In a database of its own, since it writes
-- receipts of past months as a superuser would restore them.
\set VERBOSITY terse
\c - postgres
SELECT current_database() AS regression_database \gset
CREATE DATABASE authensor_retention;
\c authensor_retention postgres
CREATE EXTENSION authensor;
-- Month offsets from now, so that the output does not depend on the date.
CREATE FUNCTION public.months_from_now(t timestamptz) RETURNS integer LANGUAGE sql AS $$
    SELECT ((extract(year FROM t AT TIME ZONE 'UTC') - extract(year FROM now() AT TIME ZONE 'UTC')) * 12
            + extract(month FROM t AT TIME ZONE 'UTC') - extract(month FROM now() AT TIME ZONE 'UTC'))::integer
$$;

-- Five months of two tenants' receipts, one every two hours, as a restored
-- dump would hold them, sealed into their chains.
INSERT INTO authensor.receipts (tenant_id, created_at, tool, args, context, action, reason, layer, recorded_at)
SELECT 'tenant-' || (i % 2), t, 'email.send', jsonb_build_object('n', i), '{}', 'allow', 'r', 'default', t
  FROM generate_series(1, 1800) AS i,
       LATERAL (SELECT date_trunc('month', now(), 'UTC') - interval '5 months' + i * interval '2 hours' AS t) AS x
 WHERE t < now();
SELECT authensor.seal_receipts() > 0 AS sealed;
-- Until partitions are made, everything is in the default partition.
SELECT tableoid::regclass AS partition, count(*) > 0 AS has_rows FROM authensor.receipts GROUP BY 1;

-- The months' partitions, three months ahead, and those of the rows waiting:
-- months of UTC whatever the session's time zone and date style (here one
-- whose abbreviation, IST, PostgreSQL reads as another zone), and with none
-- of the grants default privileges would give a new table.
ALTER DEFAULT PRIVILEGES IN SCHEMA authensor GRANT SELECT ON TABLES TO agent_app;
SET TimeZone = 'Asia/Kolkata';
SET DateStyle = 'SQL, DMY';
SELECT authensor.add_receipt_partitions() AS made;
SELECT authensor.add_receipt_partitions() AS made_again_in_that_zone;
RESET TimeZone;
RESET DateStyle;
SELECT count(*) AS partitions,
       bool_and(lower_bound = date_trunc('month', lower_bound, 'UTC')
                AND (lower_bound AT TIME ZONE 'UTC') + interval '1 month' = upper_bound AT TIME ZONE 'UTC')
           AS utc_months
  FROM authensor.receipt_partitions('authensor.receipts');
ALTER DEFAULT PRIVILEGES IN SCHEMA authensor REVOKE SELECT ON TABLES FROM agent_app;
SELECT public.months_from_now(lower_bound) AS month, count(*) > 0 AS has_rows
  FROM authensor.receipt_partitions('authensor.receipts') p
  LEFT JOIN authensor.receipts r ON r.tableoid = p.partition
 GROUP BY 1 ORDER BY 1;
SELECT (SELECT count(*) FROM authensor.receipts_default) AS receipts_left_in_default,
       (SELECT count(*) FROM authensor.receipt_links_default) AS links_left_in_default;
-- Idempotent.
SELECT authensor.add_receipt_partitions() AS made_again;
SELECT count(*) AS link_partitions FROM authensor.receipt_partitions('authensor.receipt_links');

-- A new decision goes straight to this month's partition.
\c - agent_app
SET authensor.tenant_id = 'tenant-1';
SELECT action FROM authensor.evaluate('file.read', '{"path": "/now"}');
-- Partitions are read through the partitioned table only.
SELECT count(*) FROM authensor.receipts_default;
\c - postgres
SELECT public.months_from_now(p.lower_bound) AS month
  FROM authensor.receipts r
  JOIN authensor.receipt_partitions('authensor.receipts') p ON p.partition = r.tableoid
 WHERE r.tool = 'file.read';
SELECT authensor.seal_receipts() AS sealed;

-- Each tenant keeps its head outside the database.
\c - agent_app
SET authensor.tenant_id = 'tenant-1';
SELECT checked > 0 AS checked, unsealed, problems FROM authensor.verify_receipts();
SELECT seq AS head_seq, hash AS head_hash FROM authensor.chain_head() \gset
SELECT seq AS early_seq, encode(link, 'hex') AS early_hash FROM authensor.receipt_links ORDER BY seq LIMIT 1 OFFSET 9 \gset

-- Pruning: bad arguments, and roles that do not own the tables, are refused.
\c - postgres
CALL authensor.prune_receipts(NULL);
CALL authensor.prune_receipts(interval '-1 day');
SELECT authensor.add_receipt_partitions(-1);
GRANT EXECUTE ON PROCEDURE authensor.prune_receipts(interval, integer) TO authensor_operator;
\c - authensor_operator
CALL authensor.prune_receipts('2 months');
\c - agent_app
CALL authensor.prune_receipts('2 months');
\c - postgres
-- Months whose receipts are all older than two months go: three of them.
CALL authensor.prune_receipts('2 months');
SELECT public.months_from_now(lower_bound) AS month
  FROM authensor.receipt_partitions('authensor.receipts') ORDER BY 1;
SELECT count(*) AS link_partitions FROM authensor.receipt_partitions('authensor.receipt_links');
SELECT tenant_id, seq > 0 AS has_seq, public.months_from_now(pruned_before) AS pruned_before_month
  FROM authensor.receipt_checkpoints ORDER BY 1;
-- Nothing else is pruned until more time passes.
CALL authensor.prune_receipts('2 months');
SELECT tenant_id, problems FROM authensor.verify_all_receipts() ORDER BY 1;

-- The tenant's chain verifies from its checkpoint, against the head kept;
-- a head kept from before the checkpoint can no longer be checked.
\c - agent_app
SET authensor.tenant_id = 'tenant-1';
SELECT checked > 0 AS checked, problems, head_seq = :head_seq AS same_head
  FROM authensor.verify_receipts(:head_seq, :'head_hash');
SELECT problems, first_seq = :early_seq AS at_the_old_head, problem
  FROM authensor.verify_receipts(:early_seq, :'early_hash');
-- Its checkpoint, and the export, which starts from it.
SELECT seq AS checkpoint_seq, encode(link, 'hex') AS checkpoint_hash FROM authensor.receipt_checkpoints \gset
SELECT (x ->> 'seq')::bigint = :checkpoint_seq + 1 AS export_starts_after_checkpoint,
       x ->> 'prev' = :'checkpoint_hash' AS first_prev_is_checkpoint
  FROM authensor.export_receipts() AS x LIMIT 1;
-- Another tenant sees none of tenant-1's checkpoint.
SET authensor.tenant_id = 'tenant-0';
SELECT count(*) AS other_checkpoints FROM authensor.receipt_checkpoints WHERE tenant_id <> 'tenant-0';

-- A partition of receipts or links is not for reading directly; granted to
-- a role anyway, it shows that role only its tenant's rows.
\c - postgres
SELECT p.partition AS this_month FROM authensor.receipt_partitions('authensor.receipts') p
 WHERE p.lower_bound <= now() AND p.upper_bound > now() \gset
\c - agent_app
\set VERBOSITY sqlstate
SELECT count(*) FROM :this_month;
\set VERBOSITY terse
\c - postgres
GRANT SELECT ON :this_month TO agent_app;
\c - agent_app
SET authensor.tenant_id = 'tenant-0';
SELECT count(*) FILTER (WHERE tenant_id <> 'tenant-0') AS other_tenants_rows FROM :this_month;
\c - postgres
REVOKE SELECT ON :this_month FROM agent_app;

-- A partition made by hand without its links partition stops the prune
-- there, with a notice, and is dropped by no one but its maker.
CREATE TABLE authensor.receipts_handmade PARTITION OF authensor.receipts
    FOR VALUES FROM ('1990-01-01 00:00+00') TO ('1990-02-01 00:00+00');
GRANT SELECT ON authensor.receipts_handmade TO agent_app;
-- add_receipt_partitions() gives it what the extension's own have.
SELECT authensor.add_receipt_partitions() AS made;
SELECT c.relrowsecurity, c.relforcerowsecurity, c.relacl IS NOT NULL AND NOT EXISTS (
           SELECT FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner) AS owner_only
  FROM pg_class c WHERE c.oid = 'authensor.receipts_handmade'::regclass;
CALL authensor.prune_receipts('2 months');
SELECT to_regclass('authensor.receipts_handmade') IS NOT NULL AS kept;
DROP TABLE authensor.receipts_handmade;

-- A column a receipt records, dropped: evaluate() refuses rather than write
-- receipts without it. A column whose type changed: the chains still verify,
-- and sealing still works.
BEGIN;
ALTER TABLE authensor.receipts DROP COLUMN rule_id;
SET LOCAL authensor.tenant_id = 'tenant-1';
SELECT action FROM authensor.evaluate('file.read');
ROLLBACK;
BEGIN;
ALTER TABLE authensor.receipts ALTER COLUMN platform_version TYPE bigint, ALTER COLUMN tool TYPE varchar;
ALTER TABLE authensor.receipt_seals ALTER COLUMN horizon TYPE timestamp;
SELECT tenant_id, problems FROM authensor.verify_all_receipts() ORDER BY 1;
SELECT authensor.seal_receipts() >= 0 AS sealed;
ROLLBACK;

-- A role an operator granted every table of the schema can still neither
-- write a seal nor empty a table, and a seal row written by hand stops the
-- seal rather than make it skip receipts.
GRANT ALL ON ALL TABLES IN SCHEMA authensor TO agent_app;
\c - agent_app
INSERT INTO authensor.receipt_seals (id, sealed_at, next_xid, oldest_running, horizon)
VALUES (1000000, now(), 0, 0, 'infinity');
TRUNCATE authensor.chain_heads;
TRUNCATE authensor.receipt_checkpoints;
TRUNCATE authensor.api_key_hashes;
\c - postgres
REVOKE ALL ON ALL TABLES IN SCHEMA authensor FROM agent_app;
INSERT INTO authensor.receipt_seals (id, sealed_at, next_xid, oldest_running, horizon)
VALUES (1000000, now(), 0, 0, 'infinity');
SELECT authensor.seal_receipts();
DELETE FROM authensor.receipt_seals WHERE id = 1000000;
SELECT authensor.seal_receipts() >= 0 AS sealed_again;

-- A partition, like the table, refuses changes and TRUNCATE.
DELETE FROM :this_month;
TRUNCATE :this_month;

-- Tampering after a prune is still found: a receipt after the checkpoint
-- deleted with the trigger set aside.
SET session_replication_role = replica;
DELETE FROM authensor.receipts
 WHERE id = (SELECT receipt_id FROM authensor.receipt_links
              WHERE tenant_id = 'tenant-1' ORDER BY seq LIMIT 1);
RESET session_replication_role;
SELECT tenant_id, problems, problem FROM authensor.verify_all_receipts() ORDER BY 1;

\c :regression_database postgres
DROP DATABASE authensor_retention;
