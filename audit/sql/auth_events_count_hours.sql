CREATE OR REPLACE FUNCTION public.auth_events_count_hours()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public'
AS $function$
BEGIN
    INSERT INTO auth_event_hours (kind, hour, events)
    SELECT kind, date_trunc('hour', occurred_at, 'UTC'), count(*)
    FROM new_rows WHERE kind IN ('signin.succeeded', 'signin.failed', 'signin.locked_out')
    GROUP BY 1, 2
    ON CONFLICT (kind, hour)
        DO UPDATE SET events = auth_event_hours.events + excluded.events;
    RETURN NULL;
END;
$function$;
