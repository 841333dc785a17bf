SELECT set_config('authensor.tenant_id', :tenant_a, false);
SELECT action, reason, layer FROM authensor.check(:tool, :args);
SELECT set_config('authensor.tenant_id', :tenant_b, false);
SELECT action, reason, layer FROM authensor.check(:tool, :args);
