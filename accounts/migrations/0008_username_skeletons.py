from pathlib import Path

from django.db import migrations

# Look-alike names across scripts (\uni\аlice, with a Cyrillic а, beside
# \uni\alice) are refused by PostgreSQL: each name keeps its UTS #39 skeleton
# (accounts/confusables.txt, Unicode's confusables.txt, version 13.0.0), of its
# lower case so that case does not matter either, and the skeletons are unique.
# skeleton(X) = NFD(each character of NFD(X) replaced by its prototype).
CONFUSABLES = Path(__file__).resolve().parent.parent / "confusables.txt"

SKELETONS = """
CREATE TABLE username_confusables (
    source text PRIMARY KEY,
    prototype text NOT NULL
);
CREATE FUNCTION username_skeleton(name text) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(normalize(
        string_agg(coalesce(c.prototype, t.ch), '' ORDER BY t.n), NFD
    ), '')
    FROM unnest(string_to_array(normalize(lower(name), NFD), NULL))
        WITH ORDINALITY AS t(ch, n)
    LEFT JOIN username_confusables c ON c.source = t.ch
$$;
CREATE FUNCTION users_keep_skeleton() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.username_skeleton := username_skeleton(NEW.username);
    RETURN NEW;
END;
$$;
ALTER TABLE users ADD COLUMN username_skeleton text;
"""
INDEX = """
UPDATE users SET username_skeleton = username_skeleton(username);
ALTER TABLE users ALTER COLUMN username_skeleton SET NOT NULL;
CREATE UNIQUE INDEX users_username_skeleton ON users (username_skeleton);
CREATE TRIGGER users_keep_skeleton BEFORE INSERT OR UPDATE OF username ON users
    FOR EACH ROW EXECUTE FUNCTION users_keep_skeleton();
"""
DROP = """
DROP TRIGGER users_keep_skeleton ON users;
ALTER TABLE users DROP COLUMN username_skeleton;
DROP FUNCTION users_keep_skeleton();
DROP FUNCTION username_skeleton(text);
DROP TABLE username_confusables;
"""


def load_confusables(apps, schema_editor):
    rows = []
    for line in CONFUSABLES.read_text(encoding="utf-8-sig").splitlines():
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        source, prototype, _ = (part.strip() for part in data.split(";"))
        rows.append(
            (
                "".join(chr(int(code, 16)) for code in source.split()),
                "".join(chr(int(code, 16)) for code in prototype.split()),
            )
        )
    with schema_editor.connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO username_confusables (source, prototype) VALUES (%s, %s)",
            rows,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_sessions_of_blocked_users"),
    ]

    operations = [
        migrations.RunSQL(SKELETONS, reverse_sql=DROP),
        migrations.RunPython(load_confusables, migrations.RunPython.noop),
        migrations.RunSQL(INDEX, reverse_sql=migrations.RunSQL.noop),
    ]
