"""Running a selection: order, locks, run records, failure isolation, the one table from asset
kind to the function that materialises it."""
