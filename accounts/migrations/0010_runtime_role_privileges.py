from django.db import migrations

# Defence in depth against the runtime role (APP_DB_USER; see
# docker/postgres/initdb): the confusables table is read-only for every role
# but its owner, so nobody can empty it to let look-alike names in; and a
# name's skeleton is recomputed whenever the row's name or skeleton is written,
# so that no UPDATE can set a skeleton of its own.
SKELETON_ON_ANY_WRITE = """
CREATE TRIGGER users_keep_skeleton_on_update BEFORE UPDATE ON users
    FOR EACH ROW
    WHEN (NEW.username IS DISTINCT FROM OLD.username
          OR NEW.username_skeleton IS DISTINCT FROM OLD.username_skeleton)
    EXECUTE FUNCTION users_keep_skeleton();
DROP TRIGGER users_keep_skeleton ON users;
CREATE TRIGGER users_keep_skeleton BEFORE INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION users_keep_skeleton();
"""
SKELETON_ON_NAME = """
DROP TRIGGER users_keep_skeleton ON users;
DROP TRIGGER users_keep_skeleton_on_update ON users;
CREATE TRIGGER users_keep_skeleton BEFORE INSERT OR UPDATE OF username ON users
    FOR EACH ROW EXECUTE FUNCTION users_keep_skeleton();
"""
# Every role granted anything on the table but the owner running this.
REVOKE = """
DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
        WHERE g.table_name = '{table}' AND g.grantee <> current_user
    LOOP
        EXECUTE 'REVOKE {privileges} ON {table} FROM '
            || CASE WHEN grantee = 'PUBLIC' THEN 'PUBLIC' ELSE quote_ident(grantee) END;
    END LOOP;
END;
$$;
"""
# Back to the roles that may still read it, as the default privileges gave.
GRANT = """
DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
        WHERE g.table_name = '{table}' AND g.grantee <> current_user
          AND g.privilege_type = 'SELECT'
    LOOP
        EXECUTE 'GRANT {privileges} ON {table} TO '
            || CASE WHEN grantee = 'PUBLIC' THEN 'PUBLIC' ELSE quote_ident(grantee) END;
    END LOOP;
END;
$$;
"""
CONFUSABLES = {"table": "username_confusables", "privileges": "INSERT, UPDATE, DELETE"}


class Migration(migrations.Migration):
    dependencies = [("accounts", "0009_faster_username_skeleton")]

    operations = [
        migrations.RunSQL(SKELETON_ON_ANY_WRITE, reverse_sql=SKELETON_ON_NAME),
        migrations.RunSQL(
            REVOKE.format(**CONFUSABLES), reverse_sql=GRANT.format(**CONFUSABLES)
        ),
    ]
