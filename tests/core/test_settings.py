"""Settings from the environment."""

from __future__ import annotations

import pytest

from cadenza.config import Settings


def test_a_variable_set_to_nothing_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """`CADENZA_DATABASE_URL= cadenza …` used to fail with SQLAlchemy's "Could not parse SQLAlchemy URL"."""
    monkeypatch.setenv("CADENZA_DATABASE_URL", "")
    monkeypatch.setenv("CADENZA_IMPORT_WORKERS", "")

    settings = Settings()

    assert settings.database_url == Settings.model_fields["database_url"].default == "sqlite:///cadenza.db"
    assert settings.import_workers is None


def test_a_variable_with_a_value_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CADENZA_DATABASE_URL", "sqlite:///elsewhere.db")

    assert Settings().database_url == "sqlite:///elsewhere.db"
