SELECT action, reason, layer FROM authensor.check(:tool, :args);
