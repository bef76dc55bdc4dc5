from django.db import migrations

# The same skeleton (0008), faster: 0.9 ms a name made import_users' 100,000
# names take minutes. A name of ASCII alone (the usual) needs no table: of the
# table's sources only ` " | 1 0 % m are ASCII once lower-cased (I is i), and no
# prototype holds a source, so replacing them in turn is the same mapping
# (accounts/tests/test_confusables.py holds it to the table). Other names look
# each character's prototype up by key (a join hashed the table at every call).
FASTER = r"""
CREATE OR REPLACE FUNCTION username_skeleton(name text) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
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
$$;
"""
ORIGINAL = """
CREATE OR REPLACE FUNCTION username_skeleton(name text) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(normalize(
        string_agg(coalesce(c.prototype, t.ch), '' ORDER BY t.n), NFD
    ), '')
    FROM unnest(string_to_array(normalize(lower(name), NFD), NULL))
        WITH ORDINALITY AS t(ch, n)
    LEFT JOIN username_confusables c ON c.source = t.ch
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_username_skeletons")]

    operations = [migrations.RunSQL(FASTER, reverse_sql=ORIGINAL)]
