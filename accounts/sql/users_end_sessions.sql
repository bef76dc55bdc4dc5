CREATE OR REPLACE FUNCTION public.users_end_sessions()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    DELETE FROM sessions WHERE user_id = NEW.id;
    RETURN NULL;
END;
$function$;
