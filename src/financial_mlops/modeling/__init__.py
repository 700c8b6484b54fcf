"""Model building blocks of the tournament: candidates, optuna tuning, metrics, the registered
pyfunc and the charts. Pure Python on pandas/numpy; MLflow logging stays in the pipeline nodes."""
