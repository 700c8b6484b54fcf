"""The medallion tables as a declarative pipeline (Spark Declarative Pipelines, Databricks
Lakeflow / DLT): ``pipeline.py`` defines them with the same functions as the Kedro ``features``
pipeline, ``spark-pipeline.yml`` is its spec, ``run_local`` runs it with ``spark-pipelines``."""
