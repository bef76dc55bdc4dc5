from django.db import migrations

# The notice carries the event's fields as JSON; audit.events.log_event writes
# them as one logfmt line, so that a typed name cannot add fields to it.
JSON_NOTICES = """
CREATE OR REPLACE FUNCTION auth_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    event record;
BEGIN
    FOR event IN SELECT kind, username, ip FROM new_rows ORDER BY id LOOP
        RAISE NOTICE USING MESSAGE = json_build_object(
            'event', event.kind, 'user', event.username, 'ip', host(event.ip)
        )::text;
    END LOOP;
    RETURN NULL;
END;
$$;
"""
TEXT_NOTICES = """
CREATE OR REPLACE FUNCTION auth_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
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
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_rotated_sessions")]

    operations = [migrations.RunSQL(JSON_NOTICES, reverse_sql=TEXT_NOTICES)]
