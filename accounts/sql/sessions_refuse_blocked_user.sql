CREATE OR REPLACE FUNCTION public.sessions_refuse_blocked_user()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    blocked boolean;
BEGIN
    IF NEW.user_id IS NULL THEN
        RETURN NEW;
    END IF;
    -- The row is locked whatever it holds: a filter on is_blocked would skip
    -- the version a concurrent block is replacing, without waiting for it.
    SELECT is_blocked INTO blocked FROM users WHERE id = NEW.user_id FOR SHARE;
    IF blocked THEN
        RAISE EXCEPTION 'user % is blocked: no session for them', NEW.user_id
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'sessions_user_not_blocked',
                  TABLE = 'sessions';
    END IF;
    RETURN NEW;
END;
$function$;
