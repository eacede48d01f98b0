"""Errors the engine's layers share."""

from __future__ import annotations

from etl.errors import UserFacingError


class AssetDeclarationError(UserFacingError):
    """An asset set that cannot form a graph (duplicate, unknown upstream, cycle)."""
