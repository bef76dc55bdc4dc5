CREATE OR REPLACE FUNCTION public.users_keep_skeleton()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    NEW.username_skeleton := username_skeleton(NEW.username);
    -- Claimed by the writer (sync_directory, import_users), checked here: no
    -- lookup for the other rows of an import, and no claim without approval.
    IF NEW.username_lookalike_approved THEN
        NEW.username_lookalike_approved := EXISTS (
            SELECT 1 FROM lookalike_approvals a
            WHERE upper(a.username) = upper(NEW.username)
        );
    END IF;
    RETURN NEW;
END;
$function$;
