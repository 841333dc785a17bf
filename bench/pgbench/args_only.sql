SELECT pg_catalog.concat(:tool::text, pg_catalog.jsonb_typeof(:args::jsonb));
