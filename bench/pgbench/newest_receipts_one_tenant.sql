SELECT * FROM bench.receipts_one_tenant WHERE tenant_id = :tenant ORDER BY created_at DESC LIMIT 100;
