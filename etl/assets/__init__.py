"""Every asset of the product. Importing this package registers them all with the engine."""

from etl.assets import shop

__all__ = ["shop"]
