"""Static files: collected and hashed in production, served from the apps before."""

from django.conf import settings
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed manifest storage, usable before `collectstatic`.

    `pip install -r requirements.txt`, `manage.py migrate`, `gunicorn config.wsgi`
    has no manifest yet, and the strict manifest storage made every admin page a
    500. Without a manifest, files keep their plain names, which WhiteNoise
    serves from the apps (`WHITENOISE_USE_FINDERS` in the settings).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._urls = {}

    def post_process(self, *args, **kwargs):
        yield from super().post_process(*args, **kwargs)
        self._urls.clear()  # a new manifest, new URLs

    def url(self, name: str | None, force: bool = False) -> str:
        """The file's URL, worked out once a process for each name.

        The admin asks for the same few icons once per cell of a list: at 100
        rows, parsing and joining their URLs each time cost about a tenth of
        the page. The manifest is read once at start, so its URLs hold.
        """
        key = (name, force, settings.DEBUG)
        try:
            return self._urls[key]
        except KeyError:
            self._urls[key] = url = super().url(name, force)
            return url

    def stored_name(self, name: str) -> str:
        if not self.hashed_files:
            return name
        try:
            return super().stored_name(name)
        except ValueError:
            # Missing from a manifest older than the code (collectstatic not run
            # again since): the plain name, unstyled at worst, never a 500.
            return name
