"""WSGI entry point, used by gunicorn (`gunicorn.conf.py`).

The project serves WSGI only; there is no ASGI entry point, which would be a second
door to the site without the probes in front of it.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Django first (it sets up the apps), then the probes ahead of it.
django_application = get_wsgi_application()

from health.probes import serve_probes  # noqa: E402

application = serve_probes(django_application)
