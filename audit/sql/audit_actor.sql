CREATE OR REPLACE FUNCTION public.audit_actor()
 RETURNS uuid
 LANGUAGE sql
 STABLE
AS $function$
    SELECT nullif(current_setting('audit.actor_id', true), '')::uuid
$function$;
