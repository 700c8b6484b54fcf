from kedro.pipeline import Pipeline

from financial_mlops.pipelines import deployment, tournament, validation


def create_pipeline(**kwargs) -> Pipeline:
    """The tournament, then the decision on its winner, then validation of what serves.

    Kedro orders nodes by their data only: the decision reads the version the tournament
    registered (``tournament_winner@registry``), validation the champion the deployment set
    (``deployed_champion@value``).
    """
    return (tournament.create_pipeline() + deployment.create_pipeline()
            + validation.create_pipeline())
