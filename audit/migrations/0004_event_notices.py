from django.db import migrations

# Each event, whoever inserts it (the app, a trigger, an import or raw SQL), is
# also a NOTICE to the session that inserted it: `event=<kind> user=... ip=...`.
# The app writes each one it receives as a log line (audit.events.log_event);
# psql shows it. One loop per statement, over its new rows.
NOTICES = """
CREATE FUNCTION auth_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    event record;
BEGIN
    FOR event IN SELECT kind, username, ip FROM new_rows ORDER BY id LOOP
        RAISE NOTICE USING MESSAGE = format(
            'event=%s user=%s ip=%s', event.kind, event.username,
            coalesce(host(event.ip), '-')
        );
    END LOOP;
    RETURN NULL;
END;
$$;
CREATE TRIGGER auth_events_notify AFTER INSERT ON auth_events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION auth_events_notify();
"""
DROP = """
DROP TRIGGER auth_events_notify ON auth_events;
DROP FUNCTION auth_events_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_signin_hours")]

    operations = [migrations.RunSQL(NOTICES, reverse_sql=DROP)]
