"""The marts (schema `dwh`): SQL assets downstream of the table assets, group `dwh`.

Each mart is one SELECT in `sql/<name>.sql`, declared with its grain (`key`) next to the
checks that say what a correct result looks like; its upstream assets come from its SQL.
"""
