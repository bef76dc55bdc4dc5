"""Each function the migrations leave in PostgreSQL has its current text in
`<app>/sql/<name>.sql` (the migrations keep frozen copies): a reader finds the
function as it is, and a migration that changes one must change its file too."""

from pathlib import Path

import pytest
from django.db import connection

from testsupport.servers import ROOT

pytestmark = pytest.mark.django_db
APPS = ("accounts", "audit")
# The project's functions, not an extension's (pg_trgm's).
FUNCTIONS = """
SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.prokind = 'f'
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  )
"""


def homes() -> dict[str, Path]:
    return {
        path.stem: path for app in APPS for path in (ROOT / app / "sql").glob("*.sql")
    }


def migrated() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(FUNCTIONS)
        return dict(cursor.fetchall())


def test_every_function__has_one_home():
    assert sorted(migrated()) == sorted(homes())
    # One file a function, in one app: not a second copy elsewhere.
    stems = [path.stem for app in APPS for path in (ROOT / app / "sql").glob("*.sql")]
    assert len(stems) == len(set(stems))


@pytest.mark.parametrize("name", sorted(homes()))
def test_home__is_the_function_as_migrated(name):
    assert homes()[name].read_text().rstrip().removesuffix(";") == (
        migrated()[name].rstrip()
    )
