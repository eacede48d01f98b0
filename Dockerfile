# syntax=docker/dockerfile:1
# The project on the official Airflow image: one image runs every Airflow component, the init
# job (migrations), the shop generator, the Aviasales simulator and the logging proxy.
FROM apache/airflow:3.3.2-python3.11

USER airflow
WORKDIR /opt/airflow/project

# Dependencies first (cached until pyproject.toml changes). Pinning apache-airflow to the image's
# own version stops pip from up- or downgrading Airflow, and Airflow's constraints file for that
# version pins every package they share to the set Airflow was released and tested with; [fab] is
# the auth manager compose uses, [celery] the executor of the celery profile.
COPY --chown=airflow:root pyproject.toml README.md ./
RUN mkdir -p etl models generator ingest dags \
    && py="$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    && pip install --no-cache-dir \
        --constraint "https://raw.githubusercontent.com/apache/airflow/constraints-${AIRFLOW_VERSION}/constraints-${py}.txt" \
        "apache-airflow[fab,celery]==${AIRFLOW_VERSION}" . \
    && pip uninstall -y mongo-assets

COPY --chown=airflow:root alembic.ini ./
COPY --chown=airflow:root alembic ./alembic
COPY --chown=airflow:root etl ./etl
COPY --chown=airflow:root models ./models
COPY --chown=airflow:root generator ./generator
COPY --chown=airflow:root ingest ./ingest
COPY --chown=airflow:root dags ./dags
# The committed GX project; uncommitted/ (results, data docs) is the quality-reports volume.
COPY --chown=airflow:root expectations ./expectations
RUN pip install --no-cache-dir --no-deps . \
    && mkdir -p expectations/uncommitted

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/project/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    ETL_GX_DIR=/opt/airflow/project/expectations \
    PYTHONPATH=/opt/airflow/project
