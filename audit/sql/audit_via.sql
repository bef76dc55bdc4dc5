CREATE OR REPLACE FUNCTION public.audit_via()
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
    SELECT nullif(current_setting('audit.via', true), '')
$function$;
