"""What every test module shares: the marker, the data folder beside the clone, the hypothesis profile and the
offline tiny model (built once per test session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# ../shared beside the clone: real ALFWorld games, WebShop data and the reviews; tests that read it skip without it
SHARED = Path(__file__).resolve().parents[2] / "shared"

# one profile for every property test, whatever the import order: many examples, no per-example deadline (the
# 2-core CI machine stalls under load)
settings.register_profile("ci", max_examples=150, deadline=None)
settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: learning runs that take minutes (run with -m slow; not in CI)")


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory) -> str:
    from trainer.models.tiny import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("models") / "tiny"))
