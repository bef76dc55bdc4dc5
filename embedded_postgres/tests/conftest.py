import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def cluster_root():
    """Return a folder for a throwaway cluster that an unprivileged user can reach.

    pytest's tmp_path lies under a 0700 folder, out of reach of the user that runs
    PostgreSQL when the tests run as root.
    """
    root = Path(tempfile.mkdtemp(prefix="pg-test-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)
