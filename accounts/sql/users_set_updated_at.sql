CREATE OR REPLACE FUNCTION public.users_set_updated_at()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    NEW.updated_at := statement_timestamp();  -- as the column default, Now()
    RETURN NEW;
END;
$function$;
