SELECT action, reason, layer, receipt_id FROM baseline.evaluate(:tool, :args);
