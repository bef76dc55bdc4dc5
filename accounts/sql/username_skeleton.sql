CREATE OR REPLACE FUNCTION public.username_skeleton(name text)
 RETURNS text
 LANGUAGE sql
 STABLE PARALLEL SAFE STRICT
AS $function$
    SELECT CASE WHEN octet_length(name) = char_length(name) THEN
        replace(replace(replace(replace(replace(replace(replace(lower(name),
            '`', ''''), '"', ''''''), '|', 'l'), '1', 'l'), '0', 'O'),
            '%', 'º/₀'), 'm', 'rn')
    ELSE (
        SELECT coalesce(normalize(string_agg(coalesce(
            (SELECT c.prototype FROM username_confusables c WHERE c.source = t.ch),
            t.ch
        ), '' ORDER BY t.n), NFD), '')
        FROM unnest(string_to_array(normalize(lower(name), NFD), NULL))
            WITH ORDINALITY AS t(ch, n)
    ) END
$function$;
