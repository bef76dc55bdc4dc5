CREATE OR REPLACE FUNCTION public.users_keep_skeleton()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    NEW.username_skeleton := username_skeleton(NEW.username);
    NEW.username_lookalike_approved := EXISTS (
        SELECT 1 FROM lookalike_approvals a WHERE upper(a.username) = upper(NEW.username)
    );
    RETURN NEW;
END;
$function$;
