CREATE OR REPLACE FUNCTION public.audit_users_deleted()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    -- The user is gone: the event keeps the name, and the id in detail.
    INSERT INTO auth_events (kind, username, ip, user_agent, actor_id, detail)
    SELECT 'user.deleted', o.username, audit_ip(), audit_user_agent(),
           audit_actor(), jsonb_build_object('user_id', o.id)
    FROM old_rows o;
    RETURN NULL;
END;
$function$;
