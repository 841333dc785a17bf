SELECT * FROM authensor.receipts ORDER BY created_at DESC LIMIT 100;
