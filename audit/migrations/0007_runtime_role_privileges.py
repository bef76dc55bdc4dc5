from django.db import migrations

# Defence in depth against the runtime role (APP_DB_USER; see
# docker/postgres/initdb), which may insert events but change nothing next to
# them:
# - an event takes the database's time whatever its INSERT says, unless the
#   table's owner (an operator's backfill) writes it;
# - the chart's hourly counts are written by their trigger alone, which runs as
#   the table's owner: the runtime role may only read them;
# - the admin's history may be added to, never rewritten (Django deletes a
#   user's entries with the user, so DELETE stays).
DATABASE_TIME = """
CREATE FUNCTION auth_events_database_time() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_has_role(
        current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER'
    ) THEN
        NEW.occurred_at := now();
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER auth_events_database_time BEFORE INSERT ON auth_events
    FOR EACH ROW EXECUTE FUNCTION auth_events_database_time();
ALTER FUNCTION auth_events_count_hours() SECURITY DEFINER
    SET search_path = pg_catalog, public;
"""
ANY_TIME = """
ALTER FUNCTION auth_events_count_hours() SECURITY INVOKER RESET search_path;
DROP TRIGGER auth_events_database_time ON auth_events;
DROP FUNCTION auth_events_database_time();
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
LIMITED = [
    {"table": "auth_event_hours", "privileges": "INSERT, UPDATE, DELETE, TRUNCATE"},
    {"table": "django_admin_log", "privileges": "UPDATE, TRUNCATE"},
]


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_event_notices_as_json"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [
        migrations.RunSQL(DATABASE_TIME, reverse_sql=ANY_TIME),
        *(
            migrations.RunSQL(REVOKE.format(**table), reverse_sql=GRANT.format(**table))
            for table in LIMITED
        ),
    ]
