CREATE OR REPLACE FUNCTION public.audit_users_updated()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    INSERT INTO auth_events (kind, user_id, username, ip, user_agent, actor_id)
    SELECT e.kind, n.id, n.username, audit_ip(), audit_user_agent(), audit_actor()
    FROM old_rows o
    JOIN new_rows n ON n.id = o.id
    CROSS JOIN LATERAL (VALUES
        (CASE WHEN n.is_blocked AND NOT o.is_blocked THEN 'user.blocked'
              WHEN o.is_blocked AND NOT n.is_blocked THEN 'user.unblocked' END),
        (CASE WHEN n.password_hash IS DISTINCT FROM o.password_hash
              THEN 'password.changed' END)
    ) AS e(kind)
    WHERE e.kind IS NOT NULL;
    RETURN NULL;
END;
$function$;
