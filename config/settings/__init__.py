"""Settings, read once from the environment (listed in `.env.example` and the README),
one module a concern. Each variable is read in the module of its concern, once.

A `.env` next to `manage.py` (or DJANGO_ENV_FILE) is read if present; real ones win.
A wrong value raises `ImproperlyConfigured` naming the variable (one line at start-up).
"""

from config.settings.core import *  # noqa: F403 - first: reads the `.env`
from config.settings.database import *  # noqa: F403
from config.settings.logs import *  # noqa: F403
from config.settings.mfa import *  # noqa: F403
from config.settings.security import *  # noqa: F403
from config.settings.sessions import *  # noqa: F403
from config.settings.signin import *  # noqa: F403
