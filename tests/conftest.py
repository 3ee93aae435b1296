"""Shared fixtures: the offline tiny model, built once per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory) -> str:
    from trainer.tiny import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("models") / "tiny"))
