CREATE OR REPLACE FUNCTION public.users_clear_directory_block()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    NEW.blocked_by_directory := false;
    RETURN NEW;
END;
$function$;
