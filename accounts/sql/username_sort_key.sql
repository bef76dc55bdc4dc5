CREATE OR REPLACE FUNCTION public.username_sort_key(value text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE STRICT
RETURN (((rtrim(value, '0123456789'::text) || chr(1)) || lpad((length(value))::text, 3, '0'::text)) || value);
