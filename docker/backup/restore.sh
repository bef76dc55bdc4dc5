#!/bin/sh
# Restore a backup (backup.sh's file, the one argument) into DATABASE_URL's
# database, which must be empty (a new `createdb`), connected as the role that
# is to own the schema (APP_DB_OWNER): the tables, triggers, functions and the
# runtime role's grants come back as they were. Stops at the first error.
set -eu
. "$(dirname -- "$0")/password.sh"
: "${DATABASE_URL:?DATABASE_URL names the empty database to restore into}"
file="${1:?give the backup file to restore}"
tables=$(psql --no-psqlrc --tuples-only --no-align --dbname="$DATABASE_URL" \
  --command="SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
if [ "$tables" != "0" ]; then
  echo "restore: the database is not empty ($tables tables): restore into a new one" >&2
  exit 1
fi
pg_restore --exit-on-error --no-owner --single-transaction --dbname="$DATABASE_URL" "$file"
echo "restore: $file restored"
