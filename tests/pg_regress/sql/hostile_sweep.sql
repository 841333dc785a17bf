-- Every function of the extension, called with hostile arguments of its
-- argument types, answers with a value or a clear error: never an internal
-- error (SQLSTATE class XX), never a crashed backend. Each call is rolled back.
-- Swept as a superuser acting for a tenant (so that the operator's functions
-- are reached as well), and as an agent holding a key.
\c - postgres
CREATE FUNCTION public.sweep_authensor(per_function integer DEFAULT 700)
RETURNS TABLE (functions integer, calls integer, internal_errors text[])
LANGUAGE plpgsql AS $sweep$
DECLARE
    hostile CONSTANT jsonb := jsonb_build_object(
        'text', jsonb_build_array(
            'NULL', quote_literal(''), 'repeat(''x'', 100000)', quote_literal(E'\x01\x02'),
            quote_literal('ak_' || repeat('0', 32) || '_' || repeat('0', 64)), quote_literal('${context.a}'),
            quote_literal('rules: [{tool: "**", action: allow}]'), quote_literal('*'),
            quote_literal(repeat('[', 200)), quote_literal('email.send'), quote_literal('agent'),
            quote_literal(E'a: &a [*a, *a]\nb: *a')),
        'jsonb', jsonb_build_array(
            'NULL', quote_literal('{}'), quote_literal('[]'), quote_literal('"s"'), quote_literal('null'),
            '(repeat(''['', 300) || repeat('']'', 300))::jsonb',
            '(repeat(''{"a":'', 300) || ''1'' || repeat(''}'', 300))::jsonb',
            quote_literal('{"n": 1e400}'), quote_literal('{"n": -1e-400}'),
            quote_literal('{"n": 123456789012345678901234567890.5}'),
            quote_literal('{"tenantId": 5, "to": ["x@gmail.com"]}')),
        'uuid', jsonb_build_array('NULL', 'gen_random_uuid()', quote_literal('00000000-0000-0000-0000-000000000000')),
        'integer', jsonb_build_array('NULL', '0', '-1', '2147483647', '(-2147483648)'),
        'double precision', jsonb_build_array('NULL', '''NaN''', '''Infinity''', '''-Infinity''', '0', '1e308'),
        'timestamp with time zone', jsonb_build_array('NULL', '''infinity''', '''-infinity''', 'now()'));
    fn record;
    combination text[];
    call text;
    n_functions integer := 0;
    n_calls integer := 0;
    errors text[] := '{}';
BEGIN
    FOR fn IN
        SELECT p.oid, p.proname, array_agg(format_type(t.type, NULL) ORDER BY t.position) AS types
          FROM pg_proc p
          LEFT JOIN LATERAL unnest(p.proargtypes::oid[]) WITH ORDINALITY AS t(type, position) ON true
         WHERE p.pronamespace = 'authensor'::regnamespace
           AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
           AND has_function_privilege(p.oid, 'EXECUTE')
         GROUP BY p.oid, p.proname
         ORDER BY p.proname, p.oid
    LOOP
        n_functions := n_functions + 1;
        -- Every combination of the hostile values of each argument's type,
        -- spread evenly when there are more than per_function.
        FOR combination IN
            WITH RECURSIVE combos(position, args) AS (
                SELECT 0, ARRAY[]::text[]
                UNION ALL
                SELECT c.position + 1, c.args || v.value
                  FROM combos c
                  CROSS JOIN LATERAL jsonb_array_elements_text(
                      coalesce(hostile -> (fn.types[c.position + 1]), jsonb_build_array('NULL'))) AS v(value)
                 WHERE c.position < coalesce(array_length(fn.types, 1), 0) AND fn.types[1] IS NOT NULL
            ), complete AS (
                SELECT args, row_number() OVER () AS n, count(*) OVER () AS total
                  FROM combos WHERE position = coalesce(array_length(fn.types, 1), 0)
                    AND (fn.types[1] IS NOT NULL OR position = 0)
            )
            SELECT args FROM complete WHERE n % greatest(1, total / per_function) = 0
        LOOP
            call := format('SELECT authensor.%I(%s)', fn.proname,
                           (SELECT string_agg(format('%s::%s', a, fn.types[i]), ', ' ORDER BY i)
                              FROM unnest(combination) WITH ORDINALITY AS x(a, i)));
            n_calls := n_calls + 1;
            BEGIN
                EXECUTE call;
                RAISE EXCEPTION 'undo' USING ERRCODE = 'AU001';
            EXCEPTION WHEN OTHERS THEN
                IF SQLSTATE LIKE 'XX%' THEN
                    errors := errors || format('%s -> %s %s', left(call, 200), SQLSTATE, left(SQLERRM, 200));
                END IF;
            END;
        END LOOP;
    END LOOP;
    RETURN QUERY SELECT n_functions, n_calls, errors;
END
$sweep$;
GRANT EXECUTE ON FUNCTION public.sweep_authensor(integer) TO agent_untrusted;

BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-sweep';
-- Notices (of the operator's maintenance, called with hostile arguments)
-- are not what is looked for.
SET LOCAL client_min_messages = warning;
SELECT functions >= 20 AS every_function, calls > 3000 AS many_calls, internal_errors
  FROM public.sweep_authensor();
ROLLBACK;

\c - authensor_operator
SELECT authensor.create_api_key('tenant-a', 'sweep') AS sweep_key \gset
\c - agent_untrusted
BEGIN;
SELECT authensor.authenticate(:'sweep_key') AS tenant;
SELECT functions >= 10 AS functions_reached, calls > 2000 AS many_calls, internal_errors
  FROM public.sweep_authensor();
ROLLBACK;
\c - postgres
DROP FUNCTION public.sweep_authensor(integer);
