"""Everything that fills MongoDB, the RAW layer: the live-shop generator and the Aviasales tools."""
