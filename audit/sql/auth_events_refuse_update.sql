CREATE OR REPLACE FUNCTION public.auth_events_refuse_update()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF (NEW.id, NEW.occurred_at, NEW.kind, NEW.username, NEW.ip, NEW.user_agent,
        NEW.detail)
       IS NOT DISTINCT FROM
       (OLD.id, OLD.occurred_at, OLD.kind, OLD.username, OLD.ip, OLD.user_agent,
        OLD.detail)
       AND (NEW.user_id IS NOT DISTINCT FROM OLD.user_id OR NEW.user_id IS NULL
            AND NOT EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id))
       AND (NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id OR NEW.actor_id IS NULL
            AND NOT EXISTS (SELECT 1 FROM users WHERE id = OLD.actor_id))
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'auth_events is append-only'
        USING ERRCODE = 'insufficient_privilege';
END;
$function$;
