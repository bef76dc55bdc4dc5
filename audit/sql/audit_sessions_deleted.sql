CREATE OR REPLACE FUNCTION public.audit_sessions_deleted()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    reason text := nullif(current_setting('audit.session_end', true), '');
    kept text := nullif(current_setting('audit.session_kept', true), '');
BEGIN
    IF reason IN ('signout', 'rotated') THEN
        RETURN NULL;
    END IF;
    INSERT INTO auth_events (kind, user_id, username, ip, user_agent, actor_id, detail)
    SELECT CASE WHEN reason = 'expired' THEN 'session.expired' ELSE 'session.ended' END,
           u.id, u.username, audit_ip(), audit_user_agent(), audit_actor(),
           jsonb_build_object('session', o.public_id)
    FROM old_rows o
    JOIN users u ON u.id = o.user_id
    WHERE (o.expire_date > now() OR reason = 'expired')
      AND o.public_id::text IS DISTINCT FROM kept;
    RETURN NULL;
END;
$function$;
