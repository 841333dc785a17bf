-- Escalations become approvals, and each tenant has one notification channel
-- for its approvals and alerts. Loaded after current_tenant() exists.

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
    receipt_id   uuid        NOT NULL UNIQUE REFERENCES @extschema@.receipts (id),
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
    consumed_at  timestamptz
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
       note
  FROM @extschema@.approval_requests;

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
-- from its id and LISTEN to it. Made on first use rather than at
-- installation, so that a restored dump brings back the original secret (and
-- with it every tenant's channel) instead of clashing with a new one.
CREATE TABLE @extschema@.channel_secret (
    secret bytea NOT NULL CHECK (octet_length(secret) = 32)
);
CREATE UNIQUE INDEX channel_secret_one_row ON @extschema@.channel_secret ((true));
REVOKE ALL ON @extschema@.channel_secret FROM PUBLIC;
GRANT SELECT, INSERT ON @extschema@.channel_secret TO authensor_definer;
ALTER TABLE @extschema@.channel_secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.channel_secret FORCE ROW LEVEL SECURITY;
CREATE POLICY extension_functions ON @extschema@.channel_secret TO authensor_definer USING (true) WITH CHECK (true);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.channel_secret', '');

CREATE FUNCTION @extschema@.channel_secret() RETURNS bytea
LANGUAGE sql VOLATILE SET search_path = pg_catalog AS $$
    INSERT INTO @extschema@.channel_secret
    VALUES (uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()))   -- 244 random bits
    ON CONFLICT ((true)) DO NOTHING;
    SELECT secret FROM @extschema@.channel_secret;
$$;

-- The channel a tenant's approvals and alerts are announced on: the one set
-- with set_alert_route(), or a name derived from the secret and the tenant id.
CREATE FUNCTION @extschema@.tenant_channel(tenant_id text) RETURNS text
LANGUAGE sql VOLATILE STRICT SET search_path = pg_catalog AS $$
    SELECT coalesce((SELECT s.alert_channel FROM @extschema@.tenant_settings s WHERE s.tenant_id = $1),
                    'authensor_' || left(encode(sha256(@extschema@.channel_secret() || convert_to($1, 'UTF8')),
                                                'hex'), 24))
$$;
REVOKE ALL ON FUNCTION @extschema@.request_hash(text, text, jsonb), @extschema@.tenant_channel(text),
                       @extschema@.channel_secret() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.request_hash(text, text, jsonb), @extschema@.tenant_channel(text),
                          @extschema@.channel_secret()
    TO authensor_definer;
