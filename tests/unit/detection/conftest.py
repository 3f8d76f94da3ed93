from __future__ import annotations

import pytest

from vault.detection import PiiDetector, build_analyzer


@pytest.fixture(scope="session")
def detector() -> PiiDetector:
    return PiiDetector(build_analyzer())
