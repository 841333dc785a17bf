-- The database `make bench` measures: the extension, the PL/pgSQL baseline,
-- a plain receipts table and the benchmark policies. Run by psql as a superuser.
\set ON_ERROR_STOP on

CREATE EXTENSION authensor;
\ir plpgsql_baseline.sql

-- The role pgbench connects as: an application server that may choose the
-- tenant with authensor.tenant_id.
CREATE ROLE bench_app LOGIN IN ROLE authensor_trusted;
-- The same, with room for one compiled policy: the cold-cache scenarios.
CREATE ROLE bench_cold LOGIN IN ROLE authensor_trusted;
ALTER ROLE bench_cold SET authensor.cache_size = 1;

CREATE SCHEMA bench;

-- The bare-INSERT baseline: the columns, defaults and constraints of
-- authensor.receipts, partitioned the same way, and a partition with the
-- keys and indexes each of its partitions has; without row-level security.
CREATE TABLE bench.receipts_plain (LIKE authensor.receipts INCLUDING ALL) PARTITION BY RANGE (recorded_at);
CREATE TABLE bench.receipts_plain_default PARTITION OF bench.receipts_plain DEFAULT;
ALTER TABLE bench.receipts_plain_default ADD PRIMARY KEY (id);
CREATE INDEX ON bench.receipts_plain_default (tenant_id, created_at);
CREATE INDEX ON bench.receipts_plain_default USING brin (recorded_at) WITH (autosummarize = on);
CREATE INDEX ON bench.receipts_plain_default USING brin (created_at) WITH (autosummarize = on);
GRANT USAGE ON SCHEMA bench, baseline TO bench_app;
GRANT SELECT, INSERT ON bench.receipts_plain TO bench_app;

-- The platform policy of the demo.
CREATE FUNCTION bench.platform_policy() RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT '{"rules": [
        {"id": "no-system-tools", "tool": "system.*", "action": "block",
         "reason": "System tools are blocked for all tenants"},
        {"id": "no-shell", "tool": "shell.execute", "action": "block", "reason": "Shell access is disabled"}
    ]}'::jsonb
$$;

-- A tenant policy of `rules` rules (at least 5): the demo's email and query
-- rules and a glob, then one rule per tool tool.N.run for N = 6 .. rules,
-- allowing it when args.n equals N. JSON is YAML, so authensor publishes the
-- document's text and the baseline the jsonb itself.
CREATE FUNCTION bench.tenant_policy(rules integer, description text DEFAULT 'benchmark') RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('description', description, 'default', 'block', 'rules',
        '[
            {"id": "internal-email", "tool": "email.send", "action": "allow", "reason": "Internal recipient",
             "when": {"args.to": {"endsWith": "@${context.tenantId}.com"}}},
            {"id": "external-email", "tool": "email.send", "action": "escalate",
             "reason": "External emails need approval"},
            {"id": "tenant-filter", "tool": "database.query", "action": "block",
             "reason": "Queries must include tenant_id filter",
             "when": {"args.query": {"not": {"contains": "tenant_id = ''${context.tenantId}''"}}}},
            {"id": "scoped-queries", "tool": "database.query", "action": "allow",
             "reason": "Query is scoped to the tenant"},
            {"id": "deletes", "tool": "**.delete", "action": "escalate", "reason": "Deletes need approval"}
        ]'::jsonb
        || coalesce((SELECT jsonb_agg(jsonb_build_object(
                                'tool', format('tool.%s.run', n), 'action', 'allow',
                                'when', jsonb_build_object('args.n', jsonb_build_object('equals', n)))
                            ORDER BY n)
                       FROM generate_series(6, rules) AS n), '[]'))
$$;

SELECT authensor.publish_platform_policy(bench.platform_policy()::text);
SELECT baseline.publish('platform', '', bench.platform_policy());

-- mem-1 .. mem-1000: 1,000 tenants with a 100-rule policy each, all distinct
-- (bench/cache_memory.sql).
SELECT count(authensor.publish_policy(bench.tenant_policy(100, 'memory ' || n)::text))
  FROM (SELECT n, set_config('authensor.tenant_id', 'mem-' || n, false) FROM generate_series(1, 1000) AS n) AS s;
RESET authensor.tenant_id;

-- bench-N: the policy of N rules, in both implementations. cold-a-N and
-- cold-b-N: two documents that differ only in their description, so that
-- switching between them recompiles.
DO $$
DECLARE
    n integer;
BEGIN
    FOREACH n IN ARRAY ARRAY[10, 1000, 10000] LOOP
        PERFORM set_config('authensor.tenant_id', 'bench-' || n, true);
        PERFORM authensor.publish_policy(bench.tenant_policy(n)::text);
        PERFORM baseline.publish('tenant', 'bench-' || n, bench.tenant_policy(n));
        PERFORM set_config('authensor.tenant_id', 'cold-a-' || n, true);
        PERFORM authensor.publish_policy(bench.tenant_policy(n, 'a')::text);
        PERFORM set_config('authensor.tenant_id', 'cold-b-' || n, true);
        PERFORM authensor.publish_policy(bench.tenant_policy(n, 'b')::text);
    END LOOP;
END
$$;

-- bench-rate and bench-rate-evaluate: bench-10's policy behind a rule whose
-- rate condition every database.query reaches: what one rate condition
-- costs check() (scenario check_rate; check() writes no receipt, so the
-- count finds none) and evaluate() (evaluate_rate, whose receipts reach the
-- limit of 1,000 a minute), each tenant for one scenario.
SELECT count(authensor.publish_policy(jsonb_set(bench.tenant_policy(10), '{rules}',
           '[{"id": "query-rate", "tool": "database.query", "action": "block",
              "when": {"rate": {"max": 1000, "per": "1m", "scope": "tool"}}}]'::jsonb
           || (bench.tenant_policy(10) -> 'rules'))::text))
  FROM (SELECT set_config('authensor.tenant_id', tenant, false)
          FROM unnest(ARRAY['bench-rate', 'bench-rate-evaluate']) AS tenant) AS s;
RESET authensor.tenant_id;

-- The baseline must decide exactly as the extension does.
DO $$
DECLARE
    request record;
    expected record;
    actual record;
BEGIN
    FOR request IN
        SELECT * FROM (VALUES
            ('bench-10', 'database.query', '{"query": "SELECT * FROM orders WHERE tenant_id = ''bench-10''"}'),
            ('bench-10', 'database.query', '{"query": "SELECT * FROM orders"}'),
            ('bench-10', 'email.send', '{"to": "bob@bench-10.com"}'),
            ('bench-10', 'email.send', '{"to": "bob@example.com"}'),
            ('bench-10', 'files.archive.delete', '{}'),
            ('bench-10', 'system.exec', '{}'),
            ('bench-10', 'shell.execute', '{}'),
            ('bench-10', 'tool.10.run', '{"n": 10}'),
            ('bench-10', 'tool.10.run', '{"n": 10.0}'),
            ('bench-10', 'tool.10.run', '{"n": "10"}'),
            ('bench-10', 'unknown', '{}'),
            ('bench-10000', 'tool.10000.run', '{"n": 10000}')
        ) AS r (tenant, tool, args)
    LOOP
        PERFORM set_config('authensor.tenant_id', request.tenant, true);
        SELECT action, reason, layer, rule_id, platform_version, tenant_version INTO expected
          FROM authensor.check(request.tool, request.args::jsonb);
        SELECT action, reason, layer, rule_id, platform_version, tenant_version INTO actual
          FROM baseline.evaluate(request.tool, request.args::jsonb);
        IF expected IS DISTINCT FROM actual THEN
            RAISE EXCEPTION 'baseline disagrees on % %: % instead of %', request.tool, request.args, actual, expected;
        END IF;
    END LOOP;
END
$$;

-- Agents that run SQL: the same prepared SELECT by primary key, as a role
-- without the library, as a role that loads it but is no agent, and as an
-- agent whose every statement is decided (and leaves a receipt) for tenant
-- bench-sql, whose policy allows reads of this table.
CREATE TABLE bench.sql_orders (id integer PRIMARY KEY, amount numeric NOT NULL);
INSERT INTO bench.sql_orders SELECT n, n FROM generate_series(1, 10000) AS n;
CREATE ROLE bench_sql_plain LOGIN IN ROLE authensor_trusted;
CREATE ROLE bench_sql_loaded LOGIN IN ROLE authensor_trusted;
ALTER ROLE bench_sql_loaded SET session_preload_libraries = 'authensor';
CREATE ROLE bench_sql_agent LOGIN IN ROLE authensor_trusted, authensor_agent;
ALTER ROLE bench_sql_agent SET session_preload_libraries = 'authensor';
-- An agent session takes its tenant only from its role's setting.
ALTER ROLE bench_sql_agent SET authensor.tenant_id = 'bench-sql';
GRANT USAGE ON SCHEMA bench TO bench_sql_plain, bench_sql_loaded, bench_sql_agent;
GRANT SELECT ON bench.sql_orders TO bench_sql_plain, bench_sql_loaded, bench_sql_agent, bench_app;
SELECT set_config('authensor.tenant_id', 'bench-sql', false);
SELECT authensor.publish_policy($$
rules:
  - {id: reads, tool: sql.select, action: allow, when: {args.tables: {contains: bench.sql_orders}}}
  # The same rule for the SELECT that calls evaluate() (sql.* tools are the statements' own).
  - {id: evaluated-reads, tool: db.select, action: allow, when: {args.tables: {contains: bench.sql_orders}}}
default: block
$$);
RESET authensor.tenant_id;
