CREATE OR REPLACE FUNCTION public.auth_events_refuse_delete()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF current_setting('audit.purge', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'auth_events is append-only: purge_auth_events removes old events'
        USING ERRCODE = 'insufficient_privilege';
END;
$function$;
