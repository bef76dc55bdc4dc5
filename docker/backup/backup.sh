#!/bin/sh
# One backup of DATABASE_URL's database: pg_dump's custom format, checked with
# pg_restore --list before it counts, into BACKUP_DIR (default ./backups), then
# the oldest removed past BACKUP_KEEP (default 14). Used by `make backup` and by
# compose's jobs; restore.sh puts one back. A backup holds every password hash
# and session: keep it as safe as the database.
set -eu
. "$(dirname -- "$0")/password.sh"
: "${DATABASE_URL:?DATABASE_URL names the database to back up}"
dir="${BACKUP_DIR:-./backups}"
keep="${BACKUP_KEEP:-14}"
case "$keep" in
  '' | *[!0-9]* | 0) echo "BACKUP_KEEP must be a whole number of at least 1" >&2; exit 2 ;;
esac
mkdir -p "$dir"
umask 077
file="$dir/counseling-$(date -u +%Y%m%dT%H%M%SZ).dump"
pg_dump --format=custom --file="$file.partial" --dbname="$DATABASE_URL"
pg_restore --list "$file.partial" >/dev/null
mv "$file.partial" "$file"
# The newest BACKUP_KEEP stay (the names sort by time).
ls -1 "$dir"/counseling-*.dump | sort -r | tail -n +"$((keep + 1))" | while read -r old; do
  rm -f -- "$old"
done
echo "backup: $file ($(wc -c <"$file" | tr -d ' ') bytes), the newest $keep kept"
