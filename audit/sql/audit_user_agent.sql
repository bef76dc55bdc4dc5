CREATE OR REPLACE FUNCTION public.audit_user_agent()
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
    SELECT left(coalesce(current_setting('audit.user_agent', true), ''), 256)
$function$;
