"""Every asset of the product. Importing this package registers them all with the engine."""

from etl.assets import aviasales, marts, shop

__all__ = ["aviasales", "marts", "shop"]
