"""The marts (schema `dwh`): SQL assets downstream of the table assets, group `dwh`.

Each mart is one SELECT in `sql/<name>.sql`, declared with its grain (`key`) next to the
expectations that say what a correct result looks like.
"""

from etl.assets.marts import aviasales, shop

__all__ = ["aviasales", "shop"]
