"""Declarations: assets, checks, the graph, SQL lineage and the context an asset receives.
They describe; the run layer runs them."""
