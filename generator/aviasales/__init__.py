"""Aviasales: the Data API simulator and its price model (the imitated outside world)."""
