CREATE OR REPLACE FUNCTION public.audit_users_inserted()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    -- Once a statement, not once a row: an import inserts 100,000 in one.
    ip inet := audit_ip();
    agent text := audit_user_agent();
    actor uuid := audit_actor();
    via jsonb := jsonb_strip_nulls(jsonb_build_object('via', audit_via()));
BEGIN
    INSERT INTO auth_events (kind, user_id, username, ip, user_agent, actor_id, detail)
    SELECT 'user.created', n.id, n.username, ip, agent, actor, via
    FROM new_rows n;
    RETURN NULL;
END;
$function$;
