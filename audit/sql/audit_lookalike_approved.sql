CREATE OR REPLACE FUNCTION public.audit_lookalike_approved()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    INSERT INTO auth_events (kind, user_id, username, ip, user_agent, actor_id, detail)
    SELECT 'user.lookalike_approved',
           (SELECT u.id FROM users u WHERE upper(u.username) = upper(n.username)),
           n.username, audit_ip(), audit_user_agent(),
           coalesce(n.approved_by_id, audit_actor()),
           jsonb_strip_nulls(jsonb_build_object(
               'looks_like', nullif(n.looks_like, ''), 'via', audit_via()))
    FROM new_rows n;
    RETURN NULL;
END;
$function$;
