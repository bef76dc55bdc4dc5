#!/usr/bin/env bash
# Runs once, as the superuser POSTGRES_USER, when the postgres image initialises an
# empty data volume (never again: remove the volume to run it anew).
#
# - APP_DB_USER, the role the web container runs as, gets least privilege: it may
#   connect to POSTGRES_DB and owns its public schema (so that migrations work),
#   but it is no superuser and cannot create roles or databases.
# - Nobody else (PUBLIC) may connect to the database or create in a public schema.
set -euo pipefail

: "${APP_DB_USER:?set APP_DB_USER}" "${APP_DB_PASSWORD:?set APP_DB_PASSWORD}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set app_user="$APP_DB_USER" --set app_password="$APP_DB_PASSWORD" \
  --set db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app_user";
ALTER SCHEMA public OWNER TO :"app_user";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
-- The admin's search index needs pg_trgm, which the app role may not create.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
-- New databases are copies of template1: no CREATE on its public schema either.
\connect template1
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SQL
