CREATE OR REPLACE FUNCTION public.username_skeleton(name text)
 RETURNS text
 LANGUAGE plpgsql
 STABLE PARALLEL SAFE STRICT
AS $function$
BEGIN
    -- Of the table's sources only ` " | 1 0 % m are ASCII once lower-cased,
    -- and no prototype holds a source: replacing them in turn is the mapping.
    IF octet_length(name) = char_length(name) THEN
        RETURN replace(replace(replace(replace(replace(replace(replace(lower(name),
            '`', ''''), '"', ''''''), '|', 'l'), '1', 'l'), '0', 'O'),
            '%', 'º/₀'), 'm', 'rn');
    END IF;
    RETURN (
        SELECT coalesce(normalize(string_agg(coalesce(
            (SELECT c.prototype FROM username_confusables c WHERE c.source = t.ch),
            t.ch
        ), '' ORDER BY t.n), NFD), '')
        FROM unnest(string_to_array(normalize(lower(name), NFD), NULL))
            WITH ORDINALITY AS t(ch, n)
    );
END;
$function$;
