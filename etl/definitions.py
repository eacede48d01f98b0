"""The project's definitions: every asset and check, in one object.

This is the one place the product's asset graph is assembled. The CLI, the Airflow DAG file
and the quality and report code receive `defs`; tests build small `Definitions` of their own.
Add an asset or a check to its module's `ASSETS` / `CHECKS` (etl/assets/) and it appears here,
in `python -m etl graph`, in the DAG and in the GX suites.
"""

from etl.assets import ASSETS, CHECKS
from etl.engine import Definitions

defs = Definitions(assets=ASSETS, checks=CHECKS)

__all__ = ["defs"]
