#!/usr/bin/env bash
# The database's roles as .env.compose and the secrets say, at every `docker
# compose up` (the `db-roles` service, before migrate; and once at the first
# start, from initdb/): creates what is missing, sets the passwords (POSTGRES_PASSWORD
# too), grants. Idempotent: rotating a password is changing its file in
# SECRETS_DIR and `up -d`. Runs as the superuser POSTGRES_USER, over the server's
# local socket, which needs no password (the postgres image's default).
# Each password comes from NAME or from the file NAME_FILE names (compose's
# Docker secrets), as the postgres image reads POSTGRES_PASSWORD_FILE.
#
# Two roles, neither a superuser nor able to create roles or databases:
# - APP_DB_OWNER runs the migrations (the `migrate` service): it owns the public
#   schema, so every table, trigger and function the migrations create; it may
#   make temporary tables (import_users copies the file into one).
# - APP_DB_USER, the role the web containers serve as, gets the DML its tables
#   need and nothing more: no ownership, so no DDL (it cannot drop a table or
#   disable the trigger that ends a blocked user's sessions), no TEMPORARY.
#   Default privileges give it the same on the tables future migrations create.
# Nobody else (PUBLIC) may connect to the database or create in a public schema.
set -euo pipefail

for name in POSTGRES_PASSWORD APP_DB_OWNER_PASSWORD APP_DB_PASSWORD; do
  file_name="${name}_FILE"
  file="${!file_name:-}"
  [ -n "$file" ] || continue
  if [ -n "${!name:-}" ]; then
    echo "$name and $file_name are both set: give one" >&2
    exit 1
  fi
  if [ ! -r "$file" ]; then
    echo "$file_name names a file that cannot be read" >&2
    exit 1
  fi
  printf -v "$name" '%s' "$(cat -- "$file")"
done

: "${POSTGRES_USER:?set POSTGRES_USER}" "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}" "${POSTGRES_DB:?set POSTGRES_DB}"
: "${APP_DB_OWNER:?set APP_DB_OWNER}" "${APP_DB_OWNER_PASSWORD:?set APP_DB_OWNER_PASSWORD}"
: "${APP_DB_USER:?set APP_DB_USER}" "${APP_DB_PASSWORD:?set APP_DB_PASSWORD}"

# The examples' placeholders (.env.compose.example) are never a real password.
for name in POSTGRES_PASSWORD APP_DB_OWNER_PASSWORD APP_DB_PASSWORD; do
  case "${!name:-}" in
    *change-me* | devpassword)
      echo "$name is a placeholder from .env.compose.example: set a real password" >&2
      exit 1
      ;;
  esac
done

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set superuser="$POSTGRES_USER" --set superuser_password="$POSTGRES_PASSWORD" \
  --set owner="$APP_DB_OWNER" --set owner_password="$APP_DB_OWNER_PASSWORD" \
  --set app_user="$APP_DB_USER" --set app_password="$APP_DB_PASSWORD" \
  --set db="$POSTGRES_DB" <<'SQL'
-- Each role made when missing, then set as it must be, its password included.
SELECT format('CREATE ROLE %I', name) FROM unnest(ARRAY[:'owner', :'app_user']) AS name
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) \gexec
ALTER ROLE :"owner" LOGIN PASSWORD :'owner_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE :"app_user" LOGIN PASSWORD :'app_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE :"superuser" PASSWORD :'superuser_password';
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"owner", :"app_user";
GRANT TEMPORARY ON DATABASE :"db" TO :"owner";
ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app_user";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_user";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"app_user";
-- The admin's search indexes need pg_trgm and unaccent, which neither role may create.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;
-- New databases are copies of template1: no CREATE on its public schema either.
\connect template1
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SQL
