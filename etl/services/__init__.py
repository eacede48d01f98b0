"""Connections to the two databases; only URLs decide whether they are embedded or real servers."""

from etl.services.mongo import mongo_database
from etl.services.postgres import pg_connect, postgres_url, sa_engine

__all__ = ["mongo_database", "pg_connect", "postgres_url", "sa_engine"]
