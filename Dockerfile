# The project on the official Airflow image: the same image runs every Airflow component,
# the migrations (init) and the shop generator.
FROM apache/airflow:3.3.2-python3.11

USER airflow
WORKDIR /opt/airflow/project
COPY --chown=airflow:root pyproject.toml README.md alembic.ini ./
COPY --chown=airflow:root alembic ./alembic
COPY --chown=airflow:root etl ./etl
COPY --chown=airflow:root models ./models
COPY --chown=airflow:root generator ./generator
COPY --chown=airflow:root dags ./dags
COPY --chown=airflow:root expectations ./expectations
RUN pip install --no-cache-dir .

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/project/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    ETL_GX_DIR=/opt/airflow/project/expectations
