SELECT (authensor.check(:tool, :args)).action;
