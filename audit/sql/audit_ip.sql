CREATE OR REPLACE FUNCTION public.audit_ip()
 RETURNS inet
 LANGUAGE sql
 STABLE
AS $function$
    SELECT nullif(current_setting('audit.ip', true), '')::inet
$function$;
