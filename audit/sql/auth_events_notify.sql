CREATE OR REPLACE FUNCTION public.auth_events_notify()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    event record;
BEGIN
    -- A batch command (audit.via) logs one line for its run, not one an event.
    IF audit_via() IS NOT NULL THEN
        RETURN NULL;
    END IF;
    FOR event IN SELECT kind, username, ip FROM new_rows ORDER BY id LOOP
        RAISE NOTICE USING MESSAGE = json_build_object(
            'event', event.kind, 'user', event.username, 'ip', host(event.ip)
        )::text;
    END LOOP;
    RETURN NULL;
END;
$function$;
