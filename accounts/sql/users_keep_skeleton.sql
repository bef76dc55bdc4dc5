CREATE OR REPLACE FUNCTION public.users_keep_skeleton()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    NEW.username_skeleton := username_skeleton(NEW.username);
    RETURN NEW;
END;
$function$;
