from django.db import migrations

# PostgreSQL records what changes users and sessions, whoever makes the change
# (the ORM, the admin, an import or raw SQL): statement-level triggers, one
# INSERT ... SELECT per statement however many rows it touched. Who and from
# where come from transaction-local settings the app may set
# (core/audit_context.py); raw SQL leaves them empty.
CONTEXT = """
CREATE FUNCTION audit_ip() RETURNS inet LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('audit.ip', true), '')::inet
$$;
CREATE FUNCTION audit_user_agent() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT left(coalesce(current_setting('audit.user_agent', true), ''), 256)
$$;
CREATE FUNCTION audit_actor() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('audit.actor_id', true), '')::uuid
$$;
"""

USERS = """
CREATE FUNCTION audit_users_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO auth_events (kind, user_id, username, ip, user_agent, actor_id)
    SELECT 'user.created', n.id, n.username, audit_ip(), audit_user_agent(),
           audit_actor()
    FROM new_rows n;
    RETURN NULL;
END;
$$;
CREATE FUNCTION audit_users_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO auth_events (kind, user_id, username, ip, user_agent, actor_id)
    SELECT e.kind, n.id, n.username, audit_ip(), audit_user_agent(), audit_actor()
    FROM old_rows o
    JOIN new_rows n ON n.id = o.id
    CROSS JOIN LATERAL (VALUES
        (CASE WHEN n.is_blocked AND NOT o.is_blocked THEN 'user.blocked'
              WHEN o.is_blocked AND NOT n.is_blocked THEN 'user.unblocked' END),
        (CASE WHEN n.password_hash IS DISTINCT FROM o.password_hash
              THEN 'password.changed' END)
    ) AS e(kind)
    WHERE e.kind IS NOT NULL;
    RETURN NULL;
END;
$$;
CREATE FUNCTION audit_users_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The user is gone: the event keeps the name, and the id in detail.
    INSERT INTO auth_events (kind, username, ip, user_agent, actor_id, detail)
    SELECT 'user.deleted', o.username, audit_ip(), audit_user_agent(),
           audit_actor(), jsonb_build_object('user_id', o.id)
    FROM old_rows o;
    RETURN NULL;
END;
$$;
CREATE TRIGGER users_audit_inserted AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_users_inserted();
CREATE TRIGGER users_audit_updated AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_users_updated();
CREATE TRIGGER users_audit_deleted AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_users_deleted();
"""

# A session that ends before its time: by its user elsewhere, by staff, by a
# block or a password change (users_end_sessions). Not clearsessions' expired
# rows, not a deleted user's (user.deleted says it), not a sign-out (the app
# records it, and says so in audit.session_end), and session.expired when the
# app ends one over its idle or absolute limit.
SESSIONS = """
CREATE FUNCTION audit_sessions_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    reason text := nullif(current_setting('audit.session_end', true), '');
BEGIN
    IF reason = 'signout' THEN
        RETURN NULL;
    END IF;
    INSERT INTO auth_events (kind, user_id, username, ip, user_agent, actor_id, detail)
    SELECT CASE WHEN reason = 'expired' THEN 'session.expired' ELSE 'session.ended' END,
           u.id, u.username, audit_ip(), audit_user_agent(), audit_actor(),
           jsonb_build_object('session', o.public_id)
    FROM old_rows o
    JOIN users u ON u.id = o.user_id
    WHERE o.expire_date > now() OR reason = 'expired';
    RETURN NULL;
END;
$$;
CREATE TRIGGER sessions_audit_deleted AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_sessions_deleted();
"""

# Append-only. An UPDATE may only do what the foreign keys do when a user is
# deleted (user_id or actor_id to NULL, once that user is gone); a DELETE only in
# a purge (purge_auth_events sets audit.purge). Where the roles are split, the
# runtime role has no UPDATE, DELETE or TRUNCATE at all; the owner, who could
# drop the table, may TRUNCATE it (the test suite's flush).
APPEND_ONLY = """
CREATE FUNCTION auth_events_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.occurred_at, NEW.kind, NEW.username, NEW.ip, NEW.user_agent,
        NEW.detail)
       IS NOT DISTINCT FROM
       (OLD.id, OLD.occurred_at, OLD.kind, OLD.username, OLD.ip, OLD.user_agent,
        OLD.detail)
       AND (NEW.user_id IS NOT DISTINCT FROM OLD.user_id OR NEW.user_id IS NULL
            AND NOT EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id))
       AND (NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id OR NEW.actor_id IS NULL
            AND NOT EXISTS (SELECT 1 FROM users WHERE id = OLD.actor_id))
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'auth_events is append-only'
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE FUNCTION auth_events_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('audit.purge', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'auth_events is append-only: purge_auth_events removes old events'
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER auth_events_append_only BEFORE UPDATE ON auth_events
    FOR EACH ROW EXECUTE FUNCTION auth_events_refuse_update();
CREATE TRIGGER auth_events_no_delete BEFORE DELETE ON auth_events
    FOR EACH STATEMENT EXECUTE FUNCTION auth_events_refuse_delete();
DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
        WHERE g.table_name = 'auth_events' AND g.grantee <> current_user
          AND g.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
    LOOP
        EXECUTE 'REVOKE UPDATE, DELETE, TRUNCATE ON auth_events FROM '
            || CASE WHEN grantee = 'PUBLIC' THEN 'PUBLIC' ELSE quote_ident(grantee) END;
    END LOOP;
END;
$$;
"""

DROP = """
DROP TRIGGER auth_events_no_delete ON auth_events;
DROP TRIGGER auth_events_append_only ON auth_events;
DROP FUNCTION auth_events_refuse_delete();
DROP FUNCTION auth_events_refuse_update();
DROP TRIGGER sessions_audit_deleted ON sessions;
DROP FUNCTION audit_sessions_deleted();
DROP TRIGGER users_audit_deleted ON users;
DROP TRIGGER users_audit_updated ON users;
DROP TRIGGER users_audit_inserted ON users;
DROP FUNCTION audit_users_deleted();
DROP FUNCTION audit_users_updated();
DROP FUNCTION audit_users_inserted();
DROP FUNCTION audit_actor();
DROP FUNCTION audit_user_agent();
DROP FUNCTION audit_ip();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_auth_events"),
        ("accounts", "0009_faster_username_skeleton"),
    ]

    operations = [
        migrations.RunSQL(CONTEXT + USERS + SESSIONS + APPEND_ONLY, reverse_sql=DROP)
    ]
