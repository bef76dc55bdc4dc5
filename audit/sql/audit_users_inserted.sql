CREATE OR REPLACE FUNCTION public.audit_users_inserted()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    INSERT INTO auth_events (kind, user_id, username, ip, user_agent, actor_id, detail)
    SELECT 'user.created', n.id, n.username, audit_ip(), audit_user_agent(),
           audit_actor(), jsonb_strip_nulls(jsonb_build_object('via', audit_via()))
    FROM new_rows n;
    RETURN NULL;
END;
$function$;
