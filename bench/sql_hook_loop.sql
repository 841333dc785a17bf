-- The statement hooks' cost to a role that is no agent, inside one backend:
-- 200,000 runs of the same SELECT from PL/pgSQL (a cached plan through the
-- executor each time, as a prepared statement), without the client and
-- network time that pgbench adds to every statement. Prints the seconds.
DO $$
DECLARE
    started timestamptz := clock_timestamp();
    amount numeric;
BEGIN
    FOR i IN 1..200000 LOOP
        SELECT o.amount INTO amount FROM bench.sql_orders o WHERE o.id = 1 + i % 10000;
    END LOOP;
    RAISE NOTICE 'loop_seconds=%', extract(epoch FROM clock_timestamp() - started);
END
$$;
