"""Observation, read-only: status, drift, profiles and reconciliation."""
