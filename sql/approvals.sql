-- Approvals: every escalation evaluate() writes opens one, which an admin key
-- or a trusted member of the tenant approves or rejects and the agent
-- consumes once (src/approvals.rs). And each tenant's notification channel,
-- for its approvals and alerts (src/alert_route.rs).

-- Per-tenant settings: where the tenant's notifications go.
CREATE TABLE @extschema@.tenant_settings (
    tenant_id     text PRIMARY KEY CHECK (tenant_id <> ''),
    alert_channel text NOT NULL CHECK (alert_channel <> '' AND octet_length(alert_channel) <= 63),
    updated_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_by    text NOT NULL
);

-- One row per escalate decision written by evaluate(). The request is bound by
-- a hash of (tenant, tool, canonical args) so that an approval can only ever
-- be used for exactly the action that was escalated.
CREATE TABLE @extschema@.approval_requests (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The escalation's receipt (no foreign key: receipts are pruned by
    -- dropping partitions, and approvals are kept apart from them).
    receipt_id   uuid        NOT NULL UNIQUE,
    tenant_id    text        NOT NULL,
    tool         text        NOT NULL,
    request_hash bytea       NOT NULL,
    status       text        NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'approved', 'rejected', 'consumed')),
    requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at   timestamptz NOT NULL,
    decided_at   timestamptz,
    decided_by   text,
    note         text,
    consumed_at  timestamptz,
    -- Distinct approvers needed (the escalating rule's approval.required),
    -- and the login role whose call escalated.
    required     integer     NOT NULL DEFAULT 1 CHECK (required BETWEEN 1 AND 16),
    requested_by text
);
CREATE INDEX approval_requests_tenant_idx ON @extschema@.approval_requests (tenant_id, requested_at);

ALTER TABLE @extschema@.tenant_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.tenant_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.tenant_settings FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));

ALTER TABLE @extschema@.approval_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.approval_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.approval_requests FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));

-- One row per approver of an approval, who is its login role: the primary
-- key is what keeps an approver from counting twice.
CREATE TABLE @extschema@.approval_votes (
    approval_id uuid        NOT NULL,
    tenant_id   text        NOT NULL,
    approver    text        NOT NULL,
    voted_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    note        text,
    PRIMARY KEY (approval_id, approver)
);
ALTER TABLE @extschema@.approval_votes ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.approval_votes FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.approval_votes FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));
REVOKE ALL ON @extschema@.approval_votes FROM PUBLIC;
GRANT SELECT ON @extschema@.approval_votes TO PUBLIC;
GRANT SELECT, INSERT ON @extschema@.approval_votes TO authensor_definer;
CREATE POLICY extension_functions ON @extschema@.approval_votes TO authensor_definer USING (true) WITH CHECK (true);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.approval_votes', '');

-- What a tenant sees: an approval past its expiry that was never used reads
-- as expired, whatever it was before.
CREATE VIEW @extschema@.approvals WITH (security_invoker = true) AS
SELECT id,
       receipt_id,
       tenant_id,
       tool,
       CASE WHEN status IN ('pending', 'approved') AND expires_at <= clock_timestamp()
            THEN 'expired' ELSE status END AS status,
       requested_at,
       expires_at,
       decided_at,
       decided_by,
       note,
       required,
       (SELECT count(*) FROM @extschema@.approval_votes v WHERE v.approval_id = a.id) AS approvers
  FROM @extschema@.approval_requests a;

REVOKE ALL ON @extschema@.tenant_settings, @extschema@.approval_requests FROM PUBLIC;
GRANT SELECT ON @extschema@.tenant_settings, @extschema@.approval_requests,
                @extschema@.approvals TO PUBLIC;
GRANT SELECT, INSERT, UPDATE ON @extschema@.tenant_settings, @extschema@.approval_requests
    TO authensor_definer;
CREATE POLICY extension_functions ON @extschema@.tenant_settings TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.approval_requests TO authensor_definer USING (true) WITH CHECK (true);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tenant_settings', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.approval_requests', '');

-- The identity of an escalated action: tenant, tool and args. jsonb's text
-- form is canonical (keys sorted, duplicates removed, fixed spacing), and the
-- length prefixes keep the parts from running into each other.
CREATE FUNCTION @extschema@.request_hash(tenant_id text, tool text, args jsonb) RETURNS bytea
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog AS $$
    SELECT sha256(convert_to(format('%s:%s|%s:%s|%s', octet_length(tenant_id), tenant_id,
                                    octet_length(tool), tool, args::text), 'UTF8'))
$$;

-- A secret that only the extension's functions read: default channel names
-- are derived from it, so that no one can compute another tenant's channel
-- from its id and LISTEN to it. Made at installation. The oldest row is the
-- secret: a restored dump adds the original row beside the one its CREATE
-- EXTENSION made, and the original, being older, goes on naming the channels.
CREATE TABLE @extschema@.channel_secret (
    secret  bytea       NOT NULL CHECK (octet_length(secret) = 32),
    made_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
INSERT INTO @extschema@.channel_secret (secret)
VALUES (pg_catalog.uuid_send(pg_catalog.gen_random_uuid()) || pg_catalog.uuid_send(pg_catalog.gen_random_uuid()));
REVOKE ALL ON @extschema@.channel_secret FROM PUBLIC;
GRANT SELECT ON @extschema@.channel_secret TO authensor_definer;
ALTER TABLE @extschema@.channel_secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.channel_secret FORCE ROW LEVEL SECURITY;
CREATE POLICY extension_functions ON @extschema@.channel_secret FOR SELECT TO authensor_definer USING (true);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.channel_secret', '');
-- Rate locks are keyed by the secret too (src/rate_limits.rs): a change to it
-- (a restore adds the original, older row) reaches every backend's cached
-- keys at commit.
CREATE TRIGGER channel_secret_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.channel_secret
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.policy_tables_changed();

CREATE FUNCTION @extschema@.channel_secret() RETURNS bytea
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT secret FROM @extschema@.channel_secret ORDER BY made_at, secret LIMIT 1
$$;

-- Notifications are hints (see README, Channels). Any role can LISTEN on a
-- channel and never read it, which fills PostgreSQL's one NOTIFY queue, and a
-- transaction that notifies on a full queue fails at commit. So when the
-- queue is half full, a notification is skipped with a WARNING instead:
-- publishing, approvals and alerts never wait for another session to read.
CREATE FUNCTION @extschema@.announce(channel text, payload text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
BEGIN
    IF pg_notification_queue_usage() < 0.5 THEN
        PERFORM pg_notify(channel, payload);
        RETURN true;
    END IF;
    RAISE WARNING 'the NOTIFY queue is % full, so no notification is sent on channel %',
        to_char(100 * pg_notification_queue_usage(), 'FM990%'), channel
        USING HINT = 'A session that LISTENs and never reads holds the queue; pg_stat_activity shows it. The rows themselves are written.';
    RETURN false;
END
$$;

-- The channel a tenant's approvals and alerts are announced on: the one set
-- with set_alert_route(), or a name derived from the secret and the tenant id.
CREATE FUNCTION @extschema@.tenant_channel(tenant_id text) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog AS $$
    SELECT coalesce((SELECT s.alert_channel FROM @extschema@.tenant_settings s WHERE s.tenant_id = $1),
                    'authensor_' || left(encode(sha256(@extschema@.channel_secret() || convert_to($1, 'UTF8')),
                                                'hex'), 24))
$$;
REVOKE ALL ON FUNCTION @extschema@.request_hash(text, text, jsonb), @extschema@.tenant_channel(text),
                       @extschema@.channel_secret(), @extschema@.announce(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.request_hash(text, text, jsonb), @extschema@.tenant_channel(text),
                          @extschema@.channel_secret(), @extschema@.announce(text, text)
    TO authensor_definer;

COMMENT ON VIEW @extschema@.approvals IS 'Approvals opened by escalate decisions, with their status; visible to their tenant only';
COMMENT ON FUNCTION @extschema@.approve(uuid, text) IS
    'Approve the pending approval of an escalated receipt, once per login role; approved when its rule''s required approvers have (admin keys and members of authensor_trusted, within their tenant)';
COMMENT ON FUNCTION @extschema@.reject(uuid, text) IS
    'Reject an approval that is pending or approved and not yet used; final';
COMMENT ON FUNCTION @extschema@.consume_approval(uuid, text, jsonb) IS
    'True exactly once, for an approved, unexpired approval presented with the same tool and args';
