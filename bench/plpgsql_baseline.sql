-- BASELINE FOR BENCHMARKS ONLY: not part of the authensor extension.
--
-- The decisions of authensor.check() and authensor.evaluate(), written the way
-- a competent team would write them without the extension: plain PL/pgSQL
-- over policies stored as jsonb. `make bench` times them against the extension.
--
-- Same semantics: the platform policy first and a platform block is final,
-- then the tenant policy, the most restrictive opinion wins (platform credited
-- on a tie), fail-closed block when neither has an opinion; first match within
-- a policy, then its default; tool globs (`*` one segment, `**` one or more,
-- `*` within a segment); every operator, all/any/not, `${context.…}`
-- placeholders, context.tenantId bound to the session's tenant. check()
-- decides; evaluate() decides and writes one receipt with the same columns
-- as authensor.receipts.
--
-- Done once at publish time, as a fair implementation would: the rules are
-- split into rows and each glob becomes an anchored regular expression, so a
-- decision reads only the rules whose tool matches, in order.
--
-- Differences that do not affect the benchmark: `matches` uses PostgreSQL's
-- regex dialect rather than Rust's; paths are read with PostgreSQL's `#>`, so
-- that on an array `01` and `-1` are indexes too; no validation at publish;
-- the tenant comes from the authensor.tenant_id setting without the
-- authensor_trusted check. The differential oracle (tests/oracle) compares
-- its decisions with the reference evaluator's wherever none of these apply.

CREATE SCHEMA baseline;

CREATE TABLE baseline.policies (
    layer          text    NOT NULL,
    tenant_id      text    NOT NULL,   -- '' for the platform
    version        integer NOT NULL,
    document       jsonb   NOT NULL,
    default_action text,
    PRIMARY KEY (layer, tenant_id, version)
);

CREATE TABLE baseline.active_policies (
    layer     text    NOT NULL,
    tenant_id text    NOT NULL,
    version   integer NOT NULL,
    PRIMARY KEY (layer, tenant_id)
);

CREATE TABLE baseline.rules (
    layer      text    NOT NULL,
    tenant_id  text    NOT NULL,
    version    integer NOT NULL,
    position   integer NOT NULL,
    id         text    NOT NULL,
    tool_regex text,                   -- NULL: any tool
    action     text    NOT NULL,
    reason     text    NOT NULL,
    condition  jsonb,                  -- the rule's `when`, NULL when absent
    PRIMARY KEY (layer, tenant_id, version, position)
);

CREATE TABLE baseline.receipts (LIKE authensor.receipts INCLUDING ALL);

CREATE TYPE baseline.verdict AS (action text, rule_id text, reason text);

-- One glob as a regular expression body.
CREATE FUNCTION baseline.glob_regex(glob text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(
               CASE segment
                   WHEN '**' THEN '[^.]*(\.[^.]*)*'
                   WHEN '*' THEN '[^.]*'
                   ELSE replace(regexp_replace(segment, '([^[:alnum:]_*])', '\\\1', 'g'), '*', '[^.]*')
               END, '\.' ORDER BY n)
      FROM unnest(string_to_array(glob, '.')) WITH ORDINALITY AS s (segment, n)
$$;

-- A rule's `tool` (a glob, a list of globs, or absent) as one anchored regex.
CREATE FUNCTION baseline.tool_regex(tool jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE jsonb_typeof(tool)
               WHEN 'string' THEN '^' || baseline.glob_regex(tool #>> '{}') || '$'
               WHEN 'array' THEN '^(?:' || (SELECT string_agg(baseline.glob_regex(g), '|')
                                              FROM jsonb_array_elements_text(tool) AS g) || ')$'
           END
$$;

-- Stores and activates a new version; `tenant` is '' for the platform.
CREATE FUNCTION baseline.publish(layer text, tenant text, document jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    new_version integer;
BEGIN
    SELECT coalesce(max(p.version), 0) + 1 INTO new_version
      FROM baseline.policies p
     WHERE p.layer = publish.layer AND p.tenant_id = publish.tenant;
    INSERT INTO baseline.policies
    VALUES (publish.layer, publish.tenant, new_version, publish.document, publish.document ->> 'default');
    INSERT INTO baseline.rules
    SELECT publish.layer, publish.tenant, new_version, n, rule_id,
           baseline.tool_regex(rule -> 'tool'), rule ->> 'action',
           coalesce(rule ->> 'reason', format('rule "%s" matched', rule_id)),
           rule -> 'when'
      FROM jsonb_array_elements(publish.document -> 'rules') WITH ORDINALITY AS r (rule, n),
           LATERAL (SELECT coalesce(rule ->> 'id', format('rules[%s]', n - 1)) AS rule_id) AS i;
    INSERT INTO baseline.active_policies
    VALUES (publish.layer, publish.tenant, new_version)
        ON CONFLICT ON CONSTRAINT active_policies_pkey DO UPDATE SET version = excluded.version;
    RETURN new_version;
END
$$;

-- The value at a path such as args.to or context.user.0; NULL when missing.
-- `context` already carries the session's tenant as tenantId. STABLE, as
-- to_jsonb(text) is, so that the planner inlines it.
CREATE FUNCTION baseline.field(path text, tool text, args jsonb, context jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE
               WHEN path = 'tool' THEN to_jsonb(tool)
               WHEN path = 'args' THEN args
               WHEN path = 'context' THEN context
               WHEN starts_with(path, 'args.') THEN args #> string_to_array(substr(path, 6), '.')
               ELSE context #> string_to_array(substr(path, 9), '.')
           END
$$;

-- The value of a placeholder's path (`context.…`), NULL unless it is a
-- string, a number or a boolean.
CREATE FUNCTION baseline.placeholder(path text, context jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    -- skip the 8 characters of "context."
    SELECT value
      FROM (SELECT context #> string_to_array(substr(path, 9), '.') AS value) AS found
     WHERE jsonb_typeof(value) IN ('string', 'number', 'boolean')
$$;

-- A string operand as text: each ${context.…} placeholder replaced by its
-- value's text (a number's without trailing zeros); NULL when one does not
-- resolve.
CREATE FUNCTION baseline.interpolate_text(operand text, context jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    rest     text := operand;
    rendered text := '';
    open_at  integer;
    close_at integer;
    value    jsonb;
BEGIN
    LOOP
        open_at := strpos(rest, '${');
        EXIT WHEN open_at = 0;
        close_at := open_at + strpos(substr(rest, open_at), '}') - 1;
        value := baseline.placeholder(substr(rest, open_at + 2, close_at - open_at - 2), context);
        IF value IS NULL THEN
            RETURN NULL;
        END IF;
        rendered := rendered || left(rest, open_at - 1)
                    || CASE jsonb_typeof(value) WHEN 'number' THEN trim_scale(value::numeric)::text
                                                ELSE value #>> '{}' END;
        rest := substr(rest, close_at + 1);
    END LOOP;
    RETURN rendered || rest;
END
$$;

-- An operand used as a value: a string that is one placeholder alone stands
-- for the placeholder's value, another string for its text; anything else,
-- strings nested in it included, is itself. NULL when it does not resolve.
CREATE FUNCTION baseline.interpolate_value(operand jsonb, context jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    body text;
BEGIN
    IF jsonb_typeof(operand) <> 'string' THEN
        RETURN operand;
    END IF;
    body := operand #>> '{}';
    IF strpos(body, '${') = 0 THEN
        RETURN operand;
    END IF;
    IF starts_with(body, '${') AND strpos(body, '}') = length(body) THEN
        RETURN baseline.placeholder(substr(body, 3, length(body) - 3), context);
    END IF;
    RETURN to_jsonb(baseline.interpolate_text(body, context));
END
$$;

-- One operator applied to a field's value (NULL when the path is missing).
-- notEquals and notIn are the negations of equals and in.
CREATE FUNCTION baseline.operator_holds(op text, operand jsonb, field jsonb, context jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    text_operand text;
BEGIN
    IF op IN ('notEquals', 'neq', 'notIn') THEN
        RETURN NOT baseline.operator_holds(CASE op WHEN 'notIn' THEN 'in' ELSE 'equals' END, operand, field, context);
    END IF;
    IF field IS NULL THEN
        RETURN op = 'exists' AND operand = 'false';
    END IF;
    -- Text operators take their operand as text, and only on a string.
    IF op IN ('startsWith', 'endsWith') OR (op = 'contains' AND jsonb_typeof(field) = 'string') THEN
        IF jsonb_typeof(field) <> 'string' OR jsonb_typeof(operand) <> 'string' THEN
            RETURN false;
        END IF;
        text_operand := baseline.interpolate_text(operand #>> '{}', context);
        IF text_operand IS NULL THEN
            RETURN false;
        END IF;
    END IF;
    RETURN CASE op
        WHEN 'equals' THEN coalesce(field = baseline.interpolate_value(operand, context), false)
        WHEN 'eq' THEN coalesce(field = baseline.interpolate_value(operand, context), false)
        WHEN 'in' THEN EXISTS (SELECT FROM jsonb_array_elements(operand) AS o
                                WHERE baseline.interpolate_value(o, context) = field)
        WHEN 'contains' THEN CASE jsonb_typeof(field)
            WHEN 'string' THEN strpos(field #>> '{}', text_operand) > 0
            WHEN 'array' THEN EXISTS (SELECT FROM jsonb_array_elements(field) AS e
                                       WHERE e = baseline.interpolate_value(operand, context))
            ELSE false
        END
        WHEN 'startsWith' THEN starts_with(field #>> '{}', text_operand)
        WHEN 'endsWith' THEN right(field #>> '{}', length(text_operand)) = text_operand
        WHEN 'matches' THEN jsonb_typeof(field) = 'string' AND (field #>> '{}') ~ (operand #>> '{}')
        WHEN 'gt' THEN jsonb_typeof(field) = 'number' AND field::numeric > operand::numeric
        WHEN 'gte' THEN jsonb_typeof(field) = 'number' AND field::numeric >= operand::numeric
        WHEN 'lt' THEN jsonb_typeof(field) = 'number' AND field::numeric < operand::numeric
        WHEN 'lte' THEN jsonb_typeof(field) = 'number' AND field::numeric <= operand::numeric
        WHEN 'exists' THEN operand = 'true'
    END;
END
$$;

-- An operator map (operators and all/any/not) applied to one field.
CREATE FUNCTION baseline.test_holds(test jsonb, field jsonb, context jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    op      text;
    operand jsonb;
    holds   boolean;
BEGIN
    FOR op, operand IN SELECT key, value FROM jsonb_each(test) LOOP
        holds := CASE op
            WHEN 'all' THEN NOT EXISTS (SELECT FROM jsonb_array_elements(operand) AS t
                                         WHERE NOT baseline.test_holds(t, field, context))
            WHEN 'any' THEN EXISTS (SELECT FROM jsonb_array_elements(operand) AS t
                                     WHERE baseline.test_holds(t, field, context))
            WHEN 'not' THEN NOT baseline.test_holds(operand, field, context)
            ELSE baseline.operator_holds(op, operand, field, context)
        END;
        IF NOT holds THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END
$$;

-- A condition map (paths and all/any/not): every entry must hold.
CREATE FUNCTION baseline.condition_holds(condition jsonb, tool text, args jsonb, context jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    name  text;
    body  jsonb;
    holds boolean;
BEGIN
    FOR name, body IN SELECT key, value FROM jsonb_each(condition) LOOP
        holds := CASE name
            WHEN 'all' THEN NOT EXISTS (SELECT FROM jsonb_array_elements(body) AS c
                                         WHERE NOT baseline.condition_holds(c, tool, args, context))
            WHEN 'any' THEN EXISTS (SELECT FROM jsonb_array_elements(body) AS c
                                     WHERE baseline.condition_holds(c, tool, args, context))
            WHEN 'not' THEN NOT baseline.condition_holds(body, tool, args, context)
            ELSE baseline.test_holds(body, baseline.field(name, tool, args, context), context)
        END;
        IF NOT holds THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END
$$;

-- One policy version's opinion: its first matching rule, else its default;
-- NULL when it has none.
CREATE FUNCTION baseline.policy_verdict(layer text, tenant text, version integer,
                                        tool text, args jsonb, context jsonb)
RETURNS baseline.verdict
LANGUAGE plpgsql STABLE AS $$
DECLARE
    rule   record;
    result baseline.verdict;
BEGIN
    IF version IS NULL THEN
        RETURN NULL;
    END IF;
    FOR rule IN
        SELECT r.id, r.action, r.reason, r.condition
          FROM baseline.rules r
         WHERE r.layer = policy_verdict.layer AND r.tenant_id = policy_verdict.tenant
           AND r.version = policy_verdict.version
           AND (r.tool_regex IS NULL OR policy_verdict.tool ~ r.tool_regex)
         ORDER BY r.position
    LOOP
        IF rule.condition IS NULL OR baseline.condition_holds(rule.condition, tool, args, context) THEN
            result := ROW(rule.action, rule.id, rule.reason);
            RETURN result;
        END IF;
    END LOOP;
    SELECT p.default_action, NULL, format('no rule matched; the policy default is %s', p.default_action)
      INTO result
      FROM baseline.policies p
     WHERE p.layer = policy_verdict.layer AND p.tenant_id = policy_verdict.tenant
       AND p.version = policy_verdict.version AND p.default_action IS NOT NULL;
    RETURN result;
END
$$;

CREATE FUNCTION baseline.severity(action text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE action WHEN 'allow' THEN 0 WHEN 'escalate' THEN 1 WHEN 'block' THEN 2 END
$$;

-- authensor.check(), in PL/pgSQL: the decision, without a receipt.
CREATE FUNCTION baseline.check(tool text, args jsonb DEFAULT '{}', context jsonb DEFAULT '{}')
RETURNS authensor.decision
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant   text := nullif(current_setting('authensor.tenant_id', true), '');
    platform baseline.verdict;
    own      baseline.verdict;
    chosen   baseline.verdict;
    result   authensor.decision;
BEGIN
    IF tool IS NULL OR args IS NULL OR context IS NULL THEN
        RAISE EXCEPTION 'baseline.check(): arguments must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(args) <> 'object' OR jsonb_typeof(context) <> 'object' THEN
        RAISE EXCEPTION 'baseline.check(): args and context must be JSON objects' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'baseline.check() needs a tenant' USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    context := context || jsonb_build_object('tenantId', tenant);
    SELECT max(a.version) FILTER (WHERE a.layer = 'platform'), max(a.version) FILTER (WHERE a.layer = 'tenant')
      INTO result.platform_version, result.tenant_version
      FROM baseline.active_policies a
     WHERE (a.layer, a.tenant_id) IN (('platform', ''), ('tenant', tenant));

    platform := baseline.policy_verdict('platform', '', result.platform_version, tool, args, context);
    IF platform.action = 'block' THEN
        chosen := platform;
        result.layer := 'platform';
    ELSE
        own := baseline.policy_verdict('tenant', tenant, result.tenant_version, tool, args, context);
        IF platform.action IS NOT NULL
           AND (own.action IS NULL OR baseline.severity(own.action) <= baseline.severity(platform.action)) THEN
            chosen := platform;
            result.layer := 'platform';
        ELSIF own.action IS NOT NULL THEN
            chosen := own;
            result.layer := 'tenant';
        ELSE
            chosen := ROW('block', NULL,
                       'no rule matched in the platform or tenant policy and neither sets a default (fail-closed)');
            result.layer := 'default';
        END IF;
    END IF;
    result.action := chosen.action;
    result.reason := chosen.reason;
    result.rule_id := chosen.rule_id;
    result.tenant_id := tenant;
    result.decided_at := clock_timestamp();
    RETURN result;
END
$$;

-- authensor.evaluate(), in PL/pgSQL: decides and writes one receipt.
CREATE FUNCTION baseline.evaluate(tool text, args jsonb DEFAULT '{}', context jsonb DEFAULT '{}')
RETURNS authensor.decision
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    result authensor.decision := baseline.check(tool, args, context);
BEGIN
    INSERT INTO baseline.receipts
           (tenant_id, created_at, tool, args, context, action, reason, layer,
            rule_id, platform_version, tenant_version)
    VALUES (result.tenant_id, result.decided_at, tool, args, context || jsonb_build_object('tenantId', result.tenant_id),
            result.action, result.reason, result.layer, result.rule_id, result.platform_version, result.tenant_version)
    RETURNING id INTO result.receipt_id;
    RETURN result;
END
$$;
