-- Retention over the receipts of receipts_dataset.sql: every receipt sealed
-- into its tenant's chain, then the oldest month pruned (a partition drop
-- per table, and each tenant's checkpoint), then every chain verified from
-- its checkpoint. Run by psql as a superuser; prints key=value lines.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SELECT count(*) AS receipts FROM authensor.receipts \gset
SELECT clock_timestamp() AS t0 \gset
SELECT authensor.seal_receipts() AS sealed \gset
SELECT extract(epoch FROM clock_timestamp() - :'t0') AS seal_seconds \gset
VACUUM ANALYZE authensor.receipt_links;
-- The oldest month: prune what ended before its end.
SELECT p.partition AS oldest, p.upper_bound AS oldest_end
  FROM authensor.receipt_partitions('authensor.receipts') AS p
 ORDER BY p.lower_bound LIMIT 1 \gset
SELECT count(*) AS oldest_receipts FROM :oldest \gset
SELECT clock_timestamp() AS t0 \gset
CALL authensor.prune_receipts(now() - timestamptz :'oldest_end') \gset
\set pruned :months_pruned
SELECT extract(epoch FROM clock_timestamp() - :'t0') AS prune_seconds \gset
SELECT count(*) AS checkpoints FROM authensor.receipt_checkpoints \gset
SELECT clock_timestamp() AS t0 \gset
SELECT sum(checked) AS verified, sum(problems) AS problems FROM authensor.verify_all_receipts() \gset
SELECT extract(epoch FROM clock_timestamp() - :'t0') AS verify_seconds \gset
SELECT line FROM (VALUES
    ('retention_receipts=' || :receipts),
    ('retention_sealed=' || :sealed),
    ('retention_seal_seconds=' || :seal_seconds),
    ('retention_months_pruned=' || :pruned),
    ('retention_pruned_receipts=' || :oldest_receipts),
    ('retention_prune_seconds=' || :prune_seconds),
    ('retention_checkpoints=' || :checkpoints),
    ('retention_verified=' || :verified),
    ('retention_verify_problems=' || :problems),
    ('retention_verify_seconds=' || :verify_seconds)) AS report(line);
