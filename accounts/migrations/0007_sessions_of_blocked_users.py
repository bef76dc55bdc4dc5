from django.db import migrations

# A session row for a blocked user is refused, so that a sign-in in flight when
# its user is blocked cannot leave a session behind (users_end_sessions ran
# before its insert). FOR SHARE waits for a block being committed and then reads
# the blocked row; a block that comes after waits for this insert, and its
# trigger deletes the row. Raised as a check violation of the named constraint,
# which the session store turns into a failed sign-in.
REFUSE = """
CREATE FUNCTION sessions_refuse_blocked_user() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    blocked boolean;
BEGIN
    IF NEW.user_id IS NULL THEN
        RETURN NEW;
    END IF;
    -- The row is locked whatever it holds: a filter on is_blocked would skip
    -- the version a concurrent block is replacing, without waiting for it.
    SELECT is_blocked INTO blocked FROM users WHERE id = NEW.user_id FOR SHARE;
    IF blocked THEN
        RAISE EXCEPTION 'user % is blocked: no session for them', NEW.user_id
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'sessions_user_not_blocked',
                  TABLE = 'sessions';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER sessions_refuse_blocked_user BEFORE INSERT ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_refuse_blocked_user();
-- Only when the user changes (sign-in): a save of the same user's session must
-- not wait for its user's row, which a block holds while deleting the sessions.
CREATE TRIGGER sessions_refuse_blocked_user_change BEFORE UPDATE OF user_id
    ON sessions FOR EACH ROW WHEN (NEW.user_id IS DISTINCT FROM OLD.user_id)
    EXECUTE FUNCTION sessions_refuse_blocked_user();
"""
ALLOW = """
DROP TRIGGER sessions_refuse_blocked_user_change ON sessions;
DROP TRIGGER sessions_refuse_blocked_user ON sessions;
DROP FUNCTION sessions_refuse_blocked_user();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_username_unique"),
    ]

    operations = [migrations.RunSQL(REFUSE, reverse_sql=ALLOW)]
