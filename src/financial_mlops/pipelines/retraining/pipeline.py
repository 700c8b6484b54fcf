from kedro.pipeline import Pipeline

from financial_mlops.pipelines import deployment, tournament, validation


def create_pipeline(**kwargs) -> Pipeline:
    """The tournament, then the decision on its winner, then validation of what serves.

    Kedro orders nodes by their data only, so each stage waits for the previous one's record.
    """
    return (
        tournament.create_pipeline()
        + deployment.create_pipeline(after="tournament_winner")
        + validation.create_pipeline(after="champion_change")
    )
