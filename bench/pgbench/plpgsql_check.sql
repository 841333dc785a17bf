SELECT action, reason, layer FROM baseline.check(:tool, :args);
