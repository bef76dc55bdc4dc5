"""Static files: collected and hashed in production, served from the apps before."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed manifest storage, usable before `collectstatic`.

    `pip install -r requirements.txt`, `manage.py migrate`, `gunicorn config.wsgi`
    has no manifest yet, and the strict manifest storage made every admin page a
    500 (#9). Without a manifest, files keep their plain names, which WhiteNoise
    serves from the apps (`WHITENOISE_USE_FINDERS` in the settings).
    """

    def stored_name(self, name: str) -> str:
        if not self.hashed_files:
            return name
        try:
            return super().stored_name(name)
        except ValueError:
            # Missing from a manifest older than the code (collectstatic not run
            # again since): the plain name, unstyled at worst, never a 500.
            return name
