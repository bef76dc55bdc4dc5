#!/usr/bin/env bash
# At the first start of an empty data volume (the postgres image runs initdb/):
# the roles, as at every later `up` (docker/postgres/roles.sh, mounted beside).
set -euo pipefail
exec bash "$(dirname "$0")/../roles.sh"
