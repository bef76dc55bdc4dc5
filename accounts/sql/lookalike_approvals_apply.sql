CREATE OR REPLACE FUNCTION public.lookalike_approvals_apply()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    -- An approval applies to a user of the name at once; a revoked one too.
    UPDATE users SET username_lookalike_approved = (TG_OP = 'INSERT')
    WHERE upper(username) = upper(coalesce(NEW.username, OLD.username));
    RETURN NULL;
END;
$function$;
