INSERT INTO bench.receipts_plain
       (tenant_id, created_at, tool, args, context, action, reason, layer,
        rule_id, platform_version, tenant_version)
VALUES (:tenant, clock_timestamp(), :tool, :args, :context, 'allow', 'Query is scoped to the tenant', 'tenant',
        'scoped-queries', 1, 1)
RETURNING id;
