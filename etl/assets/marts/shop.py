"""Shop marts (being written)."""
