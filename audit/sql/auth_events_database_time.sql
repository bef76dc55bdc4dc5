CREATE OR REPLACE FUNCTION public.auth_events_database_time()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF NOT pg_has_role(
        current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER'
    ) THEN
        NEW.occurred_at := statement_timestamp();
    END IF;
    RETURN NEW;
END;
$function$;
