"""Every asset and check of the product, as data: `ASSETS` and `CHECKS`.

Each module declares its assets and the checks that belong to them; nothing registers itself.
`etl.definitions` lists these in the project's `Definitions`.
"""

from etl.assets import aviasales, shop
from etl.assets.marts import aviasales as aviasales_marts
from etl.assets.marts import shop as shop_marts

ASSETS = (*shop.ASSETS, *aviasales.ASSETS, *shop_marts.ASSETS, *aviasales_marts.ASSETS)
CHECKS = (*shop.CHECKS, *aviasales.CHECKS, *shop_marts.CHECKS, *aviasales_marts.CHECKS)

__all__ = ["ASSETS", "CHECKS"]
