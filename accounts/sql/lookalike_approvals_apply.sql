CREATE OR REPLACE FUNCTION public.lookalike_approvals_apply()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    UPDATE users SET username_lookalike_approved = NOT username_lookalike_approved
    WHERE upper(username) = upper(coalesce(NEW.username, OLD.username));
    RETURN NULL;
END;
$function$;
