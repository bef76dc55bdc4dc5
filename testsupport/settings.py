"""The project's settings loaded afresh in a test, from a given environment."""

from __future__ import annotations

import importlib
import os
import sys

import config
from testsupport.servers import SECRET_KEY, child_env

SECRET = "s3cret-Pa55"
GOOD = {
    "DJANGO_SECRET_KEY": f"{SECRET}-{SECRET_KEY}",
    "DATABASE_URL": f"postgresql://app:{SECRET}@127.0.0.1:1/app",
}


def load_settings(monkeypatch, **env):
    """Load the settings (config/settings/) afresh with only `env` of the project's
    variables; the modules loaded before come back after the test."""
    for name in os.environ.keys() - child_env().keys():
        monkeypatch.delenv(name)
    for name, value in {**GOOD, **env}.items():
        monkeypatch.setenv(name, value)
    for name in list(sys.modules):
        if name == "config.settings" or name.startswith("config.settings."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(config, "settings", config.settings)
    return vars(importlib.import_module("config.settings"))
