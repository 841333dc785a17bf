SELECT action, reason, layer, receipt_id FROM authensor.evaluate(:tool, :args);
