#!/bin/bash
# Runs once, as the postgres image's superuser, when the data volume is first created.
# Airflow gets a login of its own that owns only its database (metadata and Celery results);
# it cannot connect to the warehouse, and the warehouse's users cannot connect to it.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -v pw="${AIRFLOW_DB_PASSWORD:?set in .env}" \
     --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE airflow LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'pw';
CREATE DATABASE airflow OWNER airflow;
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), current_user) \gexec
SQL
