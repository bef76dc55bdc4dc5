CREATE OR REPLACE FUNCTION public.audit_users_updated()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    via jsonb := jsonb_strip_nulls(jsonb_build_object('via', audit_via()));
BEGIN
    INSERT INTO auth_events (kind, user_id, username, ip, user_agent, actor_id, detail)
    SELECT e.kind, n.id, n.username, audit_ip(), audit_user_agent(), audit_actor(),
           via || e.detail
    FROM old_rows o
    JOIN new_rows n ON n.id = o.id
    CROSS JOIN LATERAL (VALUES
        (CASE WHEN n.is_blocked AND NOT o.is_blocked THEN 'user.blocked'
              WHEN o.is_blocked AND NOT n.is_blocked THEN 'user.unblocked' END,
         '{}'::jsonb),
        (CASE WHEN n.password_hash IS DISTINCT FROM o.password_hash
              THEN 'password.changed' END,
         '{}'::jsonb),
        (CASE WHEN n.username IS DISTINCT FROM o.username THEN 'user.renamed' END,
         jsonb_build_object('from', o.username)),
        (CASE WHEN (n.display_name, n.email, n.is_staff, n.is_superuser)
                   IS DISTINCT FROM (o.display_name, o.email, o.is_staff, o.is_superuser)
              THEN 'user.updated' END,
         jsonb_build_object('fields', to_jsonb(array_remove(ARRAY[
             CASE WHEN n.display_name IS DISTINCT FROM o.display_name THEN 'display_name' END,
             CASE WHEN n.email IS DISTINCT FROM o.email THEN 'email' END,
             CASE WHEN n.is_staff IS DISTINCT FROM o.is_staff THEN 'is_staff' END,
             CASE WHEN n.is_superuser IS DISTINCT FROM o.is_superuser THEN 'is_superuser' END
         ], NULL))))
    ) AS e(kind, detail)
    WHERE e.kind IS NOT NULL;
    RETURN NULL;
END;
$function$;
