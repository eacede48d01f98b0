#!/bin/bash
# Runs once, as the postgres image's superuser, when the data volume is first created: one login
# per job, each with its password from .env (the superuser is used by nothing else).
#   etl_owner   owns the warehouse database and the product's schemas; `etl migrate` runs as it
#               and grants the two below their rights (etl/services/roles.py)
#   etl_loader  the ETL: rows of shop, aviasales and etl, the marts in dwh
#   analyst     (ANALYST_ROLE) reads shop, aviasales and dwh; never etl.* (rejects, run records)
#   airflow     owns the airflow database only (metadata, Celery results)
# The warehouse is closed to the public (connect rights are granted by `etl migrate`), Airflow's
# database to everyone but airflow.
set -euo pipefail
psql -v ON_ERROR_STOP=1 \
     -v owner_pw="${POSTGRES_OWNER_PASSWORD:?set in .env}" \
     -v loader_pw="${POSTGRES_LOADER_PASSWORD:?set in .env}" \
     -v analyst="${ANALYST_ROLE:-analyst}" -v analyst_pw="${ANALYST_PASSWORD:?set in .env}" \
     -v airflow_pw="${AIRFLOW_DB_PASSWORD:?set in .env}" \
     --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE etl_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_pw';
CREATE ROLE etl_loader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'loader_pw';
CREATE ROLE :"analyst" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'analyst_pw';
CREATE ROLE airflow LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'airflow_pw';
CREATE DATABASE airflow OWNER airflow;
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
SELECT format('ALTER DATABASE %I OWNER TO etl_owner', current_database()) \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec
SQL
