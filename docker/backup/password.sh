# Sourced by backup.sh and restore.sh: the password apart from DATABASE_URL, as
# the compose containers pass it, from the file PGPASSWORD_FILE names (a Docker
# secret) into libpq's PGPASSWORD; both set is an error.
if [ -n "${PGPASSWORD_FILE:-}" ]; then
  if [ -n "${PGPASSWORD:-}" ]; then
    echo "PGPASSWORD and PGPASSWORD_FILE are both set: give one" >&2
    exit 2
  fi
  if [ ! -r "$PGPASSWORD_FILE" ]; then
    echo "PGPASSWORD_FILE names a file that cannot be read" >&2
    exit 2
  fi
  PGPASSWORD=$(cat -- "$PGPASSWORD_FILE")
  export PGPASSWORD
fi
