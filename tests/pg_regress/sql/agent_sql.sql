-- Agents that run SQL: an agent role's statements are decided before they
-- run, and protect_table() keeps each tenant to its rows, whatever SQL the
-- agent writes. Every refusal leaves a receipt. Refusals' HINTs carry
-- receipt ids, which vary, so errors are shown tersely.
\set VERBOSITY terse

-- An application's tables, owned by a role that is not an agent.
CREATE ROLE shop_owner NOLOGIN;
CREATE SCHEMA shop AUTHORIZATION shop_owner;
SET ROLE shop_owner;
CREATE TABLE shop.orders (id int PRIMARY KEY, tenant_id text NOT NULL, amount numeric NOT NULL);
CREATE TABLE shop.payments (id int PRIMARY KEY, tenant_id text NOT NULL, amount numeric NOT NULL);
CREATE TABLE shop.notes (id int PRIMARY KEY, tenant text NOT NULL, body text);
INSERT INTO shop.orders VALUES (1, 'sql-a', 10), (2, 'sql-b', 20), (3, 'sql-a', 30), (4, 'sql-b', 40);
INSERT INTO shop.payments VALUES (1, 'sql-a', 5), (2, 'sql-b', 6);
-- A view and a SECURITY DEFINER function that read every order, as their
-- owner: row-level security still keys on the session's tenant.
CREATE VIEW shop.order_view AS SELECT id, tenant_id, amount FROM shop.orders;
CREATE FUNCTION shop.order_total() RETURNS numeric LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog AS $$ SELECT sum(amount) FROM shop.orders $$;
-- A PARALLEL SAFE function that runs a statement: in a parallel worker, where
-- nothing can be written, that statement cannot be decided.
CREATE FUNCTION shop.payment_count() RETURNS bigint LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog AS $$ BEGIN RETURN (SELECT count(*) FROM shop.payments); END $$;
-- A table whose rule turns an UPDATE into something else, and a
-- partitioned table written through its partition's own name.
CREATE SEQUENCE shop.order_ids;
-- An operator whose function is VOLATILE: a statement using it names no
-- VOLATILE function.
CREATE FUNCTION shop.bump(bigint, bigint) RETURNS bigint LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog AS $$ BEGIN RETURN setval('shop.order_ids', $1 + $2); END $$;
CREATE OPERATOR shop.### (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = shop.bump);
-- A function partition pruning calls as a plan starts, which runs setval().
CREATE FUNCTION shop.pick(int) RETURNS int LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog AS $$ DECLARE v bigint; BEGIN v := setval('shop.order_ids', 1000 + $1); RETURN $1; END $$;
-- A SQL function the planner inlines: its body's setval() is in the plan.
CREATE FUNCTION shop.reset_ids(bigint) RETURNS bigint LANGUAGE sql VOLATILE
    AS $$ SELECT setval('shop.order_ids', $1) $$;
CREATE TABLE shop.ruled (id int PRIMARY KEY, tenant_id text NOT NULL);
CREATE RULE ruled_update AS ON UPDATE TO shop.ruled DO INSTEAD DELETE FROM shop.payments WHERE false;
CREATE VIEW shop.ruled_view AS SELECT * FROM shop.ruled;
CREATE TABLE shop.ledger (id int NOT NULL, tenant_id text NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE shop.ledger_1 PARTITION OF shop.ledger FOR VALUES FROM (1) TO (100);
CREATE TABLE shop.ledger_2 PARTITION OF shop.ledger FOR VALUES FROM (100) TO (200);
GRANT USAGE ON SCHEMA shop TO authensor_operator, agent_app;
GRANT SELECT ON shop.orders TO agent_app;
RESET ROLE;

-- protect_table(): operator only, the table's owner (or a superuser).
SELECT authensor.protect_table(NULL, 'tenant_id');
SELECT authensor.protect_table('shop.orders', 'no_such_column');
SELECT authensor.protect_table('shop.order_view', 'tenant_id');
SELECT authensor.protect_table('authensor.receipts', 'tenant_id');
SELECT authensor.protect_table('shop.nothing', 'tenant_id');
\c - authensor_operator
SELECT authensor.protect_table('shop.orders', 'tenant_id');
\c - postgres
GRANT EXECUTE ON FUNCTION authensor.protect_table(regclass, name) TO authensor_operator;
\c - authensor_operator
SELECT authensor.protect_table('shop.orders', 'tenant_id');
\c - postgres
REVOKE EXECUTE ON FUNCTION authensor.protect_table(regclass, name) FROM authensor_operator;
-- An application policy of the same name is not authensor's to replace.
CREATE POLICY authensor_tenant_rows ON shop.notes USING (true);
SELECT authensor.protect_table('shop.notes', 'tenant');
DROP POLICY authensor_tenant_rows ON shop.notes;
-- Idempotent; a second call with another column moves the policies to it.
SELECT authensor.protect_table('shop.orders', 'tenant_id');
SELECT authensor.protect_table('shop.orders', 'tenant_id');
SELECT authensor.protect_table('shop.payments', 'tenant_id');
SELECT authensor.protect_table('shop.notes', 'body');
SELECT authensor.protect_table('shop.notes', 'tenant');
SELECT tablename, policyname, permissive, cmd, qual
  FROM pg_policies WHERE schemaname = 'shop' ORDER BY 1, 2;
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
 WHERE relnamespace = 'shop'::regnamespace AND relkind = 'r' ORDER BY 1;
SELECT authensor.unprotect_table('shop.notes');
SELECT authensor.unprotect_table('shop.notes');
-- A tenant column of a type with a length or a scale: the tenant id is cast
-- to the type without it, so it is never cut to match another tenant's rows
-- (sql-a cut to varchar(3) would be 'sql').
SET ROLE shop_owner;
CREATE TABLE shop.short_ids (id int PRIMARY KEY, tenant varchar(3) NOT NULL);
INSERT INTO shop.short_ids VALUES (1, 'sql');
RESET ROLE;
SELECT authensor.protect_table('shop.short_ids', 'tenant');
SELECT qual FROM pg_policies WHERE tablename = 'short_ids' AND policyname = 'authensor_tenant_rows';
SELECT relname, relrowsecurity, relforcerowsecurity,
       (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) AS policies
  FROM pg_class c WHERE oid = 'shop.notes'::regclass;

-- The agent role: a member of authensor_agent whose sessions load the
-- library. A table an agent owns cannot be protected: its owner could turn
-- row-level security off.
CREATE ROLE agent_sql LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE authensor_agent;
ALTER ROLE agent_sql SET session_preload_libraries = 'authensor';
GRANT USAGE ON SCHEMA shop TO agent_sql;
GRANT SELECT, INSERT, UPDATE, DELETE ON shop.orders, shop.payments, shop.order_view TO agent_sql;
GRANT SELECT ON shop.short_ids TO agent_sql;
GRANT SELECT, UPDATE ON shop.ruled, shop.ruled_view TO agent_sql;
GRANT USAGE, UPDATE ON SEQUENCE shop.order_ids TO agent_sql;
GRANT SELECT, INSERT ON shop.ledger, shop.ledger_1, shop.ledger_2 TO agent_sql;
GRANT TRUNCATE ON shop.orders TO agent_sql;
GRANT EXECUTE ON FUNCTION shop.order_total() TO agent_sql;
CREATE TABLE public.agent_owned (tenant_id text);
ALTER TABLE public.agent_owned OWNER TO agent_sql;
SELECT authensor.protect_table('public.agent_owned', 'tenant_id');
-- Nor one whose owner an agent is a member of.
CREATE ROLE agent_sql_group NOLOGIN;
GRANT agent_sql_group TO agent_sql;
ALTER TABLE public.agent_owned OWNER TO agent_sql_group;
SELECT authensor.protect_table('public.agent_owned', 'tenant_id');
DROP TABLE public.agent_owned;
DROP ROLE agent_sql_group;

-- Keys for two tenants, and their policies: sql-a has the kinds of
-- statement rules the README shows; sql-b may read shop.orders only.
\c - authensor_operator
SELECT authensor.create_api_key('sql-a', 'sql agent a') AS key_a \gset
SELECT authensor.create_api_key('sql-b', 'sql agent b') AS key_b \gset
SELECT authensor.create_api_key('sql-c', 'sql agent c') AS key_c \gset
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'sql-a';
SELECT authensor.publish_policy($$
rules:
  - {id: no-ddl, tool: sql.ddl, action: block, reason: "Agents do not change the schema"}
  - {id: delete-needs-where, tool: sql.delete, action: block,
     when: {args.has_where: {equals: false}}, reason: "DELETE without WHERE"}
  - {id: merge-no-delete, tool: sql.merge, action: block,
     when: {args.actions: {contains: DELETE}}, reason: "MERGE that deletes"}
  - {id: application-functions, tool: "sql.*", action: block,
     when: {args.functions: {any: [{contains: pg_catalog.setval}, {contains: pg_catalog.lo_creat}]}},
     reason: "Sequences and large objects are the application's"}
  - {id: payments-need-approval, tool: "sql.*", action: escalate,
     when: {args.writes: {contains: shop.payments}}}
default: allow
$$);
COMMIT;
BEGIN;
SET LOCAL authensor.tenant_id = 'sql-b';
SELECT authensor.publish_policy($$
rules:
  - {id: orders-only, tool: sql.select, action: allow,
     when: {args.tables: {in: [[shop.orders]]}}}
  - {id: no-other-reads, tool: sql.select, action: block, reason: "Reads are limited to shop.orders"}
default: allow
$$);
COMMIT;

\c - agent_sql
-- Without a tenant, nothing that reads a relation runs, nor anything that
-- calls a function but authensor's, nor code.
SELECT id FROM shop.orders;
SELECT pg_notify('orders', 'x');
LISTEN orders;
DO $$ BEGIN PERFORM 1; END $$;
SELECT 1 AS one, current_setting('search_path') AS path;
SELECT 1::bigint OPERATOR(shop.###) 2::bigint AS bumped;
SHOW search_path;
-- A key written as a literal does not stay in pg_stat_activity, where every
-- session of the same role (an agent of another tenant) can read it.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT authensor.authenticate(:'key_a') AS tenant,
       (SELECT query FROM pg_stat_get_activity(pg_backend_pid())) AS shown;
ROLLBACK;
-- Nor in receipts: a key passed where the tenant is already bound, as a
-- literal or as a bind parameter, is kept as its id and a digest (counted
-- below).
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
PREPARE auth(text) AS SELECT authensor.authenticate($1) AS tenant;
EXECUTE auth(:'key_a');
DEALLOCATE auth;
COMMIT;
-- An agent's role settings are its governance: it may not change them, nor
-- any role.
ALTER ROLE agent_sql SET work_mem = '64MB';
ALTER ROLE agent_sql PASSWORD 'changed';

-- The guide's substring rule passes both of these; row-level security keeps
-- them to tenant sql-a's rows.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT id, tenant_id FROM shop.orders -- tenant_id = 'sql-b'
ORDER BY id;
SELECT id, tenant_id FROM shop.orders WHERE tenant_id = 'sql-b' OR true ORDER BY id;
SELECT id, tenant FROM shop.short_ids;
-- UNION with another table, a CTE, a view, a SECURITY DEFINER function.
SELECT id, tenant_id FROM shop.orders UNION ALL SELECT id, tenant_id FROM shop.payments ORDER BY 1, 2;
WITH theirs AS (SELECT * FROM shop.orders WHERE tenant_id = 'sql-b') SELECT count(*) FROM theirs;
SELECT id, tenant_id FROM shop.order_view ORDER BY id;
SELECT shop.order_total();
-- authensor's own statements are not decided: evaluate() leaves its receipt,
-- and its statement one, and nothing for what it runs inside.
SELECT (authensor.evaluate('email.send', '{"to": "a@example.com"}')).action;
-- COPY out reads through the policies; COPY in is refused on a table with
-- row-level security.
COPY shop.orders TO STDOUT;
SAVEPOINT s;
\copy shop.orders FROM '/dev/null'
ROLLBACK TO SAVEPOINT s;
-- Prepared statements and cursors.
PREPARE mine AS SELECT id, tenant_id FROM shop.orders ORDER BY id;
EXECUTE mine;
EXECUTE mine;
DECLARE c CURSOR FOR SELECT id, tenant_id FROM shop.orders ORDER BY id;
FETCH ALL c;
CLOSE c;
-- A WITH HOLD cursor outlives the transaction, and the tenant its rows were
-- read for: refused over a relation.
SAVEPOINT s;
DECLARE held CURSOR WITH HOLD FOR SELECT id FROM shop.orders;
ROLLBACK TO SAVEPOINT s;
DECLARE held CURSOR WITH HOLD FOR SELECT 1 AS one;
FETCH held;
CLOSE held;
-- Writing another tenant's rows: nothing to update, and no row to insert.
UPDATE shop.orders SET amount = 0 WHERE tenant_id = 'sql-b';
SAVEPOINT s;
INSERT INTO shop.orders VALUES (5, 'sql-b', 50);
ROLLBACK TO SAVEPOINT s;
SAVEPOINT s;
UPDATE shop.orders SET tenant_id = 'sql-b' WHERE id = 1;
ROLLBACK TO SAVEPOINT s;
UPDATE shop.orders SET amount = amount + 1 WHERE id = 1;
COMMIT;

-- Statement rules: DELETE without WHERE is blocked, whether sent as text, as
-- a prepared statement, from PL/pgSQL or in a WITH clause; DDL is blocked; a
-- write to shop.payments escalates.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
DELETE FROM shop.orders;
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
PREPARE wipe AS DELETE FROM shop.orders;
EXECUTE wipe;
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
DO $$ BEGIN DELETE FROM shop.orders; END $$;
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
WITH gone AS (DELETE FROM shop.orders RETURNING id) SELECT count(*) FROM gone;
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
ALTER TABLE shop.orders DISABLE ROW LEVEL SECURITY;
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
DELETE FROM shop.orders WHERE id = 3;
ROLLBACK;
-- A MERGE that deletes is blocked whatever its ON condition; one that only
-- updates runs. Its args list the commands of its WHEN clauses.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
MERGE INTO shop.orders o USING (SELECT 1) s ON o.id = o.id WHEN MATCHED THEN DELETE;
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
MERGE INTO shop.orders o USING (SELECT 1 AS id) s ON o.id = s.id
  WHEN MATCHED THEN UPDATE SET amount = o.amount WHEN NOT MATCHED THEN DO NOTHING;
ROLLBACK;
-- A function is decided wherever it is called: in a statement, in a
-- PL/pgSQL expression, as EXECUTE's argument, in the body of a SQL function
-- inlined into the plan, and through the protocol's fast-path function
-- call, which psql's \lo_import uses (libpq's lo_creat).
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT setval('shop.order_ids', 42);
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
DO $$ DECLARE v bigint; BEGIN v := setval('shop.order_ids', 42); END $$;
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
PREPARE echo(bigint) AS SELECT $1 AS v;
EXECUTE echo(setval('shop.order_ids', 42));
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SELECT shop.reset_ids(42);
ROLLBACK;
-- Before it runs, even when the plan's start calls it (partition pruning).
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
SET LOCAL plan_cache_mode = force_generic_plan;
PREPARE pruned(int) AS SELECT count(*) FROM shop.ledger WHERE id = shop.pick($1);
EXECUTE pruned(1);
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
\lo_import '/dev/null'
ROLLBACK;
-- TRUNCATE ignores row-level security: with the privilege, an agent would
-- empty every tenant's rows. It is refused on a protected table, and with
-- CASCADE.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
TRUNCATE shop.orders;
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
TRUNCATE shop.payments CASCADE;
ROLLBACK;
-- An escalated statement's text keeps its line ends: the person approving
-- it sees that OR true is not part of the comment.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
UPDATE shop.payments SET amount = 0 WHERE id = 1 -- the one payment
OR true;
ROLLBACK;
-- The hooks cannot be turned off from the session.
SET session_preload_libraries = '';
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
INSERT INTO shop.payments VALUES (3, 'sql-a', 7);
ROLLBACK;
-- The refused statements' receipts are written by the next commit, with the
-- approval of the escalation.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
COMMIT;

-- Tenant sql-b may read shop.orders, and nothing else.
BEGIN;
SELECT authensor.authenticate(:'key_b') AS tenant;
SELECT id, tenant_id FROM shop.orders ORDER BY id;
SELECT id FROM shop.payments;
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_b') AS tenant;
SELECT id FROM shop.order_view;
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_b') AS tenant;
COMMIT;

-- A prepared statement is decided by what it was written as, however long
-- ago: 10,000 statements analysed since push its analysis out of what a
-- session keeps, and every cached plan is analysed again before it runs.
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'sql-c';
SELECT authensor.publish_policy($$
rules:
  - {id: delete-needs-where, tool: sql.delete, action: block, when: {args.has_where: {equals: false}}}
default: allow
$$);
COMMIT;
\c - agent_sql
BEGIN;
SELECT authensor.authenticate(:'key_c') AS tenant;
PREPARE sneaky AS WITH gone AS (DELETE FROM shop.orders RETURNING id) SELECT count(*) FROM gone;
COMMIT;
BEGIN;
SELECT authensor.authenticate(:'key_c') AS tenant;
DO $$ BEGIN FOR i IN 1..5000 LOOP EXECUTE 'SELECT ' || i; END LOOP; END $$;
COMMIT;
BEGIN;
SELECT authensor.authenticate(:'key_c') AS tenant;
DO $$ BEGIN FOR i IN 5001..10000 LOOP EXECUTE 'SELECT ' || i; END LOOP; END $$;
COMMIT;
BEGIN;
SELECT authensor.authenticate(:'key_c') AS tenant;
EXECUTE sneaky;
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_c') AS tenant;
COMMIT;
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'sql-c';
SELECT tool, action, rule_id, committed, count(*) FROM authensor.receipts GROUP BY 1, 2, 3, 4 ORDER BY 1, 2;
COMMIT;
\c - agent_sql
-- A function's statement is decided on its own; in a parallel worker, where
-- nothing can be written, it cannot be decided, and is refused.
BEGIN;
SELECT authensor.authenticate(:'key_c') AS tenant;
SELECT shop.payment_count();
ROLLBACK;
SELECT current_setting('server_version_num')::int >= 160000 AS debug_parallel_query \gset
BEGIN;
SELECT authensor.authenticate(:'key_c') AS tenant;
\if :debug_parallel_query
SET LOCAL debug_parallel_query = on;
\else
SET LOCAL force_parallel_mode = on;
\endif
SET LOCAL parallel_leader_participation = off;
SELECT shop.payment_count();
ROLLBACK;
-- A statement whose args (its text among them) exceed
-- authensor.max_args_bytes is refused, as evaluate() refuses such args.
SELECT repeat('x', 1100000) AS pad \gset
BEGIN;
SELECT authensor.authenticate(:'key_c') AS tenant;
SELECT count(*) FROM shop.orders WHERE :'pad' <> '';
ROLLBACK;
-- Refused before any decision, because the text would not say what runs: a
-- statement parsed with standard_conforming_strings off (an approver reads
-- its text as standard SQL), and one writing a table with rules.
SET standard_conforming_strings = off;
SELECT 1 AS one;
SET standard_conforming_strings = on;
SET transform_null_equals = on;
SELECT 1 AS one;
RESET transform_null_equals;
BEGIN;
SELECT authensor.authenticate(:'key_c') AS tenant;
SAVEPOINT s;
UPDATE shop.ruled SET id = id WHERE id = 1;
ROLLBACK TO SAVEPOINT s;
UPDATE shop.ruled_view SET id = id WHERE id = 1;
ROLLBACK TO SAVEPOINT s;
WITH changed AS (UPDATE shop.ruled SET id = id WHERE id = 1) SELECT 1 AS one;
ROLLBACK;
-- A partition written by its own name counts as its partitioned table too.
-- Bind parameters are written with output settings of their own: the
-- session's extra_float_digits, DateStyle and IntervalStyle do not make
-- distinct values print alike.
SET extra_float_digits = -15;
SET DateStyle = 'SQL, DMY';
SET IntervalStyle = 'sql_standard';
BEGIN;
SELECT authensor.authenticate(:'key_c') AS tenant;
INSERT INTO shop.ledger_1 VALUES (1, 'sql-c');
PREPARE probe(float8, date, interval) AS
  SELECT count(*) FROM shop.orders WHERE amount <> $1 AND $2 IS NOT NULL AND $3 IS NOT NULL;
EXECUTE probe(140, '04/03/2026', '1 day 2 hours');
DEALLOCATE probe;
COMMIT;
RESET extra_float_digits;
RESET DateStyle;
RESET IntervalStyle;
-- Behind a pooler, the next transaction on an agent's connection may be
-- another tenant's, and a temporary table is found before any schema's: an
-- agent that authenticates with keys keeps temporary objects to the
-- transaction (ON COMMIT DROP).
CREATE TEMP TABLE orders (LIKE shop.orders);
BEGIN;
SELECT authensor.authenticate(:'key_c') AS tenant;
SAVEPOINT s;
CREATE TEMP TABLE orders (LIKE shop.orders);
ROLLBACK TO SAVEPOINT s;
SELECT 1 AS one INTO TEMP one;
ROLLBACK TO SAVEPOINT s;
CREATE TEMP VIEW orders AS SELECT * FROM shop.orders;
ROLLBACK TO SAVEPOINT s;
CREATE TYPE pg_temp.mood AS ENUM ('calm');
ROLLBACK TO SAVEPOINT s;
SET LOCAL search_path = pg_temp, shop;
CREATE TABLE orders (LIKE shop.orders);
ROLLBACK TO SAVEPOINT s;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) CREATE TEMP TABLE orders AS SELECT 1 AS id;
ROLLBACK TO SAVEPOINT s;
CREATE TEMP TABLE scratch (x int, id serial) ON COMMIT DROP;
INSERT INTO scratch VALUES (1);
SELECT x, id FROM scratch;
SAVEPOINT s;
ALTER SEQUENCE scratch_id_seq OWNED BY NONE;
ROLLBACK TO SAVEPOINT s;
-- Nor does its transaction change tenant, even after the savepoint that
-- bound it rolled back.
SELECT authensor.authenticate(:'key_a') AS tenant;
COMMIT;
BEGIN;
SAVEPOINT s;
SELECT authensor.authenticate(:'key_a') AS tenant;
ROLLBACK TO SAVEPOINT s;
SELECT authensor.authenticate(:'key_c') AS tenant;
ROLLBACK;
-- A role that bypasses row-level security is not one an agent may act as,
-- nor one a view or SECURITY DEFINER function it uses reads as.
\c - postgres
CREATE VIEW shop.every_order AS SELECT id, tenant_id FROM shop.orders;
CREATE FUNCTION shop.every_order_count() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog AS $$ SELECT count(*) FROM shop.orders $$;
GRANT SELECT ON shop.every_order TO agent_sql;
CREATE ROLE agent_sql_bypass NOLOGIN BYPASSRLS;
GRANT USAGE ON SCHEMA shop TO agent_sql_bypass;
GRANT SELECT ON shop.orders TO agent_sql_bypass;
GRANT agent_sql_bypass TO agent_sql;
\c - agent_sql
BEGIN;
SELECT authensor.authenticate(:'key_c') AS tenant;
SAVEPOINT s;
SELECT count(*) FROM shop.every_order;
ROLLBACK TO SAVEPOINT s;
SELECT shop.every_order_count();
ROLLBACK TO SAVEPOINT s;
SET LOCAL ROLE agent_sql_bypass;
SELECT count(*) FROM shop.orders;
ROLLBACK;
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'sql-c';
SELECT tool, action, args->'tables' AS tables, args->'writes' AS writes, args->'parameters' AS parameters,
       args->'settings'->>'DateStyle' AS date_style, args->'settings'->>'IntervalStyle' AS interval_style
  FROM authensor.receipts
 WHERE args->>'statement' LIKE 'INSERT INTO shop.ledger_1%' OR args->>'statement' LIKE 'PREPARE probe%'
 ORDER BY created_at;
COMMIT;
\c - postgres
DROP OWNED BY agent_sql_bypass;
DROP ROLE agent_sql_bypass;

-- A person approves the escalated INSERT; the same statement then runs once,
-- decided again with its escalation granted: its receipt of 'escalate' is
-- followed by one of 'allow' for the run (rate limits count that one).
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'sql-a';
SELECT tool, status FROM authensor.approvals WHERE tool LIKE 'sql.%';
SELECT authensor.approve(receipt_id, 'one payment') FROM authensor.approvals WHERE tool = 'sql.insert';
COMMIT;
\c - agent_sql
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
-- Only the same text: with other white space it escalates again.
SAVEPOINT s;
INSERT  INTO shop.payments VALUES (3, 'sql-a', 7);
ROLLBACK TO SAVEPOINT s;
INSERT INTO shop.payments VALUES (3, 'sql-a', 7);
SAVEPOINT s;
INSERT INTO shop.payments VALUES (4, 'sql-a', 8);
ROLLBACK TO SAVEPOINT s;
SELECT id, tenant_id, amount FROM shop.payments ORDER BY id;
COMMIT;

-- A statement with bind parameters is approved with their values: the
-- approval of amount 9 does not run the same text with another amount.
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
PREPARE pay(numeric) AS UPDATE shop.payments SET amount = $1 WHERE id = 1;
EXECUTE pay(9);
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
COMMIT;
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'sql-a';
SELECT authensor.approve(a.receipt_id, 'amount 9')
  FROM authensor.approvals a JOIN authensor.receipts r ON r.id = a.receipt_id
 WHERE a.status = 'pending' AND r.args->>'statement' LIKE 'PREPARE pay%';
COMMIT;
\c - agent_sql
BEGIN;
SELECT authensor.authenticate(:'key_a') AS tenant;
PREPARE pay(numeric) AS UPDATE shop.payments SET amount = $1 WHERE id = 1;
SAVEPOINT s;
EXECUTE pay(999999);
ROLLBACK TO SAVEPOINT s;
EXECUTE pay(9);
SAVEPOINT s;
EXECUTE pay(9);
ROLLBACK TO SAVEPOINT s;
SELECT id, tenant_id, amount FROM shop.payments ORDER BY id;
COMMIT;
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'sql-a';
SELECT action, committed, args->'parameters' AS parameters FROM authensor.receipts
 WHERE tool = 'sql.update' AND args->>'statement' LIKE 'PREPARE pay%' ORDER BY created_at, id;
COMMIT;

-- An agent role bound to a tenant by the operator: a member of
-- authensor_trusted whose role setting names the tenant. What the session
-- assigns itself, with SET or in its startup packet, is ignored.
\c - postgres
CREATE ROLE agent_bound LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE authensor_agent, authensor_trusted;
ALTER ROLE agent_bound SET session_preload_libraries = 'authensor';
ALTER ROLE agent_bound SET authensor.tenant_id = 'sql-b';
GRANT USAGE ON SCHEMA shop TO agent_bound;
GRANT SELECT ON shop.orders TO agent_bound;
\c - agent_bound
SELECT id, tenant_id FROM shop.orders ORDER BY id;
SET authensor.tenant_id = 'sql-a';
SELECT id, tenant_id FROM shop.orders ORDER BY id;
\c -reuse-previous=on "options='-c authensor.tenant_id=sql-a'"
SELECT id, tenant_id FROM shop.orders ORDER BY id;
-- Its tenant makes it no governor: a statement its policy allows (it reads
-- shop.orders) may not approve, publish or route alerts for the tenant.
\c - agent_bound
SELECT authensor.publish_policy('rules: [{tool: "*", action: allow}]') FROM shop.orders LIMIT 1;
SELECT authensor.approve(gen_random_uuid()) FROM shop.orders LIMIT 1;
SELECT authensor.set_alert_route('agent_channel') FROM shop.orders LIMIT 1;
-- Nor may it name itself another tenant, which its role's settings would.
ALTER ROLE agent_bound SET authensor.tenant_id = 'sql-a';
ALTER ROLE agent_bound IN DATABASE regression RESET authensor.tenant_id;
-- Bound to one tenant, every transaction of its session is that tenant's:
-- it may keep temporary tables.
CREATE TEMP TABLE bound_scratch (x int);
DROP TABLE bound_scratch;

-- Every decided statement left a receipt, refused ones included (committed
-- = false); authensor's own statements and a non-agent's leave none.
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'sql-a';
SELECT id FROM shop.orders ORDER BY id;
SELECT tool, action, rule_id, committed, args->>'command' AS command, args->'tables' AS tables,
       args->'writes' AS writes, args->'columns' AS columns, args->'has_where' AS has_where,
       args->'functions' AS functions,
       regexp_replace(args->>'statement', '<API key ak_[0-9a-f]{32}… hidden #[0-9a-f]{32}>', '<API key … hidden>', 'g') AS statement
  FROM authensor.receipts ORDER BY created_at, id;
SELECT tool, status FROM authensor.approvals WHERE tool LIKE 'sql.%' ORDER BY requested_at;
SELECT count(*) FILTER (WHERE args::text ~ 'ak_[0-9a-f]{32}_[0-9a-f]{64}') AS keys_in_receipts,
       count(*) FILTER (WHERE args::text ~ '<API key ak_[0-9a-f]{32}… hidden #[0-9a-f]{32}>') AS hidden_keys
  FROM authensor.receipts;
COMMIT;
BEGIN;
SET LOCAL authensor.tenant_id = 'sql-b';
SELECT tool, action, rule_id, committed, args->'tables' AS tables, args->>'statement' AS statement
  FROM authensor.receipts ORDER BY created_at, id;
COMMIT;

-- Refused decisions wait in the session until its next commit writes them,
-- at most 10,000 per session: a tenant that fills that leaves the next
-- tenant on the connection (behind a pooler) free to work, and that
-- tenant's commit writes them.
\c - authensor_operator
SELECT authensor.create_api_key('sql-full', 'sql agent full') AS key_full \gset
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'sql-full';
SELECT authensor.publish_policy('{rules: [{tool: sql.utility, action: allow}], default: block}') > 0 AS published;
COMMIT;
\c - agent_sql
BEGIN;
SELECT authensor.authenticate(:'key_full') AS tenant;
DO $$ BEGIN
    FOR i IN 1..10001 LOOP
        BEGIN PERFORM FROM shop.orders; EXCEPTION WHEN insufficient_privilege THEN NULL; END;
    END LOOP;
END $$;
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_full') AS tenant;
SELECT count(*) FROM shop.orders;
ROLLBACK;
BEGIN;
SELECT authensor.authenticate(:'key_c') AS tenant;
SELECT count(*) FROM shop.orders;
COMMIT;
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'sql-full';
SELECT action, committed, count(*) FROM authensor.receipts GROUP BY 1, 2 ORDER BY 1, 2;
COMMIT;

-- In a database whose encoding is not UTF8, statements' text cannot be
-- compared as UTF-8: an agent's statements with a tenant are refused.
\c - postgres
\set regress_db :DBNAME
CREATE DATABASE authensor_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c authensor_latin1 postgres
CREATE EXTENSION authensor;
CREATE TABLE public.latin1_rows (id int);
GRANT SELECT ON public.latin1_rows TO agent_sql;
SELECT authensor.create_api_key('sql-latin1') AS key_latin1 \gset
\c - agent_sql
BEGIN;
SELECT authensor.authenticate(:'key_latin1') AS tenant;
SELECT id FROM public.latin1_rows;
ROLLBACK;
\c :regress_db postgres
DROP DATABASE authensor_latin1;
-- In a database without authensor, an agent's statements cannot be decided.
CREATE DATABASE authensor_absent;
\c authensor_absent agent_sql
SELECT 1 AS one;
\c :regress_db postgres
DROP DATABASE authensor_absent;

DROP SCHEMA shop CASCADE;
DROP OWNED BY agent_sql, agent_bound;
DROP ROLE agent_sql, agent_bound;
DROP ROLE shop_owner;
