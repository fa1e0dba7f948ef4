from __future__ import annotations

from pathlib import Path

import pytest

from clue.bench.data.loader import default_data_root


@pytest.fixture()
def data_root() -> Path:
    root = default_data_root()
    assert (root / "data_collection").is_dir(), f"BEHEMOTH data missing at {root}"
    return root
