-- Loaded last (finalize), once every feature's file has run: who the
-- SECURITY DEFINER functions run as.

-- Every SECURITY DEFINER function runs as authensor_definer, never as the
-- superuser who installed the extension: whatever runs inside one (an
-- operator's trigger or default on authensor.receipts included) has that
-- role's rights on the extension's tables and nothing else. Done for all of
-- them at once, so that a new function cannot be left owned by a superuser.
DO $$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN SELECT p.oid FROM pg_catalog.pg_proc p
               WHERE p.pronamespace = '@extschema@'::regnamespace AND p.prosecdef
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO authensor_definer', fn);
    END LOOP;
END
$$;
