"""Migrations are reversible and create exactly the architecture's users table."""

import pytest
from django.core.management import call_command
from django.db import connection

COLUMNS = {
    # name: (type, nullable, default)
    "id": ("uuid", "NO", "gen_random_uuid()"),
    "username": ("character varying(255)", "NO", None),
    "password_hash": ("character varying(255)", "NO", None),
    "is_blocked": ("boolean", "NO", "false"),
    "is_staff": ("boolean", "NO", "false"),
    "is_superuser": ("boolean", "NO", "false"),
    "last_login": ("timestamp with time zone", "YES", None),
    "created_at": ("timestamp with time zone", "NO", "statement_timestamp()"),
    "updated_at": ("timestamp with time zone", "NO", "statement_timestamp()"),
    # Kept by the users_keep_skeleton trigger (accounts migration 0008).
    "username_skeleton": ("text", "NO", None),
    # From the school's directory (signin.directory).
    "display_name": ("character varying(255)", "NO", "''::character varying"),
    "email": ("character varying(254)", "NO", "''::character varying"),
    "directory_guid": ("uuid", "YES", None),
    # The roster from the directory (accounts migration 0012).
    "blocked_by_directory": ("boolean", "NO", "false"),
    "username_lookalike_approved": ("boolean", "NO", "false"),
}


def users_columns():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod),
                   CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END,
                   pg_get_expr(d.adbin, d.adrelid)
            FROM pg_attribute a
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = 'users'::regclass AND a.attnum > 0
              AND NOT a.attisdropped
            """
        )
        return {name: rest for name, *rest in cursor.fetchall()}


def users_indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'users'"
        )
        return dict(cursor.fetchall())


def users_checks():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'users'::regclass AND contype = 'c'"
        )
        return dict(cursor.fetchall())


def users_triggers():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'users'::regclass "
            "AND NOT tgisinternal"
        )
        return {name for (name,) in cursor.fetchall()}


def table_exists(name):
    return name in connection.introspection.table_names()


def assert_users_schema():
    assert {k: tuple(v) for k, v in users_columns().items()} == {
        k: tuple(v) for k, v in COLUMNS.items()
    }
    indexes = users_indexes()
    assert set(indexes) == {
        "users_pkey",
        "idx_users_username",
        "idx_users_username_upper",
        "idx_users_login_fold_trgm",
        "idx_users_name_fold_trgm",
        "idx_users_is_blocked",
        "idx_users_natural_order",
        "idx_users_directory_guid",
        "users_username_skeleton",
    }
    assert indexes["users_username_skeleton"] == (
        "CREATE UNIQUE INDEX users_username_skeleton ON public.users "
        "USING btree (username_skeleton) WHERE (NOT username_lookalike_approved)"
    )
    assert indexes["idx_users_login_fold_trgm"] == (
        "CREATE INDEX idx_users_login_fold_trgm ON public.users "
        "USING gin (search_fold((username)::text) gin_trgm_ops)"
    )
    assert indexes["idx_users_username"] == (
        "CREATE UNIQUE INDEX idx_users_username ON public.users USING btree (username)"
    )
    assert indexes["idx_users_username_upper"] == (
        "CREATE UNIQUE INDEX idx_users_username_upper ON public.users "
        "USING btree (upper((username)::text))"
    )
    assert indexes["idx_users_is_blocked"] == (
        "CREATE INDEX idx_users_is_blocked ON public.users "
        "USING btree (is_blocked) WHERE is_blocked"
    )
    assert indexes["idx_users_natural_order"] == (
        "CREATE INDEX idx_users_natural_order ON public.users "
        "USING btree (username_sort_key((username)::text), username)"
    )
    checks = users_checks()
    assert set(checks) == {
        "users_username_format",
        "users_username_visible",
        "users_username_nfkc",
    }
    assert checks["users_username_format"] == (
        "CHECK (((username)::text ~ '^\\\\[^\\\\]+\\\\[^\\\\]+$'::text))"
    )
    assert checks["users_username_nfkc"] == "CHECK ((username IS NFKC NORMALIZED))"
    assert checks["users_username_visible"].startswith(
        "CHECK ((NOT ((username)::text ~ '[\\u0001-\\u001f"
    )
    assert users_triggers() == {
        "users_set_updated_at",
        "users_end_sessions",
        "users_keep_skeleton",
        "users_keep_skeleton_on_update",
        "users_clear_directory_block",
        # The audit trail's (audit migration 0002).
        "users_audit_inserted",
        "users_audit_updated",
        "users_audit_deleted",
    }


@pytest.mark.django_db(transaction=True)
def test_migrations__round_trip_through_zero():
    assert_users_schema()

    call_command("migrate", "accounts", "zero", verbosity=0)
    assert not table_exists("users")
    assert not table_exists("users_groups")
    assert not table_exists("sessions")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_proc WHERE proname = ANY(%s)",
            [
                [
                    "users_set_updated_at",
                    "users_end_sessions",
                    "users_keep_skeleton",
                    "auth_events_database_time",
                    "username_skeleton",
                    "sessions_refuse_blocked_user",
                    "audit_users_inserted",
                    "audit_sessions_deleted",
                    "auth_events_refuse_update",
                ]
            ],
        )
        assert cursor.fetchone() == (0,)
    assert not table_exists("username_confusables")
    assert not table_exists("auth_events")  # the audit app's, which depends on it

    call_command("migrate", verbosity=0)
    assert_users_schema()


def test_makemigrations__finds_no_model_change_without_a_migration(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
