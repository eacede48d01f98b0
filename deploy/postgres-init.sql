-- One PostgreSQL server, two databases: the warehouse and Airflow's metadata.
CREATE DATABASE airflow;
