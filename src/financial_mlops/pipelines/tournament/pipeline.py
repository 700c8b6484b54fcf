from kedro.pipeline import Pipeline, node

from financial_mlops.pipelines.tournament.nodes import (
    build_leaderboard,
    labelled_trades,
    ood_market,
    plot_leaderboard,
    plot_pr_curves,
    prepare_tournament_data,
    register_winner,
    run_tournament,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                labelled_trades,
                inputs=["gold_trade_features@delta", "anomaly_labels", "silver_trades_existing",
                        "params:tournament", "params:features"],
                outputs=["tournament_gold", "tournament_labels"],
                name="labelled_trades",
            ),
            node(
                prepare_tournament_data,
                inputs=["tournament_gold", "tournament_labels", "params:tournament"],
                outputs=["tournament_data", "tournament_features"],
                name="prepare_tournament_data",
            ),
            node(
                ood_market,
                inputs=["tournament_gold", "params:tournament", "params:features"],
                outputs="tournament_ood",
                name="build_ood_market",
            ),
            node(
                run_tournament,
                inputs=["tournament_data", "tournament_features", "params:tournament",
                        "tournament_ood"],
                outputs="tournament_candidates",
                name="run_tournament",
            ),
            node(build_leaderboard, "tournament_candidates", "tournament_leaderboard",
                 name="build_leaderboard"),
            node(plot_pr_curves, ["tournament_candidates", "tournament_data"],
                 "tournament_pr_curves", name="plot_pr_curves"),
            node(plot_leaderboard, "tournament_leaderboard", "tournament_leaderboard_chart",
                 name="plot_leaderboard"),
            node(
                register_winner,
                inputs=["tournament_candidates", "tournament_data", "params:tournament"],
                outputs="tournament_winner@record",
                name="register_winner",
            ),
        ],
        # The Databricks job that runs these nodes (kedro-viz's tag filter).
        tags=["financial_retraining_workflow"],
    )
