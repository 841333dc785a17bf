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

-- The identity of an escalated action: tenant, tool and args. jsonb's text
-- form is canonical (keys sorted, duplicates removed, fixed spacing), and the
-- length prefixes keep the parts from running into each other.
CREATE FUNCTION @extschema@.request_hash(tenant_id text, tool text, args jsonb) RETURNS bytea
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog AS $$
    SELECT sha256(convert_to(format('%s:%s|%s:%s|%s', octet_length(tenant_id), tenant_id,
                                    octet_length(tool), tool, args::text), 'UTF8'))
$$;

-- The channel a tenant's approvals and alerts are announced on: the one set
-- with set_alert_route(), or a fixed name derived from the tenant id.
CREATE FUNCTION @extschema@.tenant_channel(tenant_id text) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog AS $$
    SELECT coalesce((SELECT s.alert_channel FROM @extschema@.tenant_settings s WHERE s.tenant_id = $1),
                    'authensor_' || left(encode(sha256(convert_to($1, 'UTF8')), 'hex'), 24))
$$;
REVOKE ALL ON FUNCTION @extschema@.request_hash(text, text, jsonb), @extschema@.tenant_channel(text) FROM PUBLIC;
