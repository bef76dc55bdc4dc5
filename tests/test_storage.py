"""config.storage: the static files' URLs, worked out once a process."""

import pytest

from config.storage import StaticFilesStorage


@pytest.fixture
def storage(tmp_path):
    (tmp_path / "app.css").write_text("body { color: black }")
    storage = StaticFilesStorage(location=tmp_path, base_url="/static/")
    collect(storage)
    return storage


def collect(storage):
    """What `collectstatic` does after copying: hash, write the manifest."""
    for _, _, processed in storage.post_process({"app.css": (storage, "app.css")}):
        assert not isinstance(processed, Exception)


def test_url__is_the_manifests_hashed_name(storage):
    url = storage.url("app.css")
    assert url.startswith("/static/app.")
    assert url.endswith(".css")
    assert url == "/static/" + storage.hashed_files["app.css"]
    assert storage.url("app.css") == url


def test_url__follows_a_new_collectstatic(storage, tmp_path):
    before = storage.url("app.css")
    (tmp_path / "app.css").write_text("body { color: navy }")
    collect(storage)
    after = storage.url("app.css")
    assert after != before
    assert after == "/static/" + storage.hashed_files["app.css"]


def test_url__plain_names_before_collectstatic(tmp_path):
    storage = StaticFilesStorage(location=tmp_path, base_url="/static/")
    assert storage.url("admin/css/base.css") == "/static/admin/css/base.css"


def test_url__debug_serves_plain_names(storage, settings):
    hashed = storage.url("app.css")
    settings.DEBUG = True
    assert storage.url("app.css") == "/static/app.css"
    settings.DEBUG = False
    assert storage.url("app.css") == hashed
