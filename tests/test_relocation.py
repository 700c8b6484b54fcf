"""A copied or moved project: stored absolute paths re-rooted (MLflow's SQLite store, stream
checkpoints), relative SQLite URIs taken under the project whatever the working folder."""

from __future__ import annotations

from pathlib import Path

from mlflow.tracking import MlflowClient

from financial_mlops.relocation import anchor_mlflow_conf, reroot_checkpoint, reroot_mlflow_store

ARTIFACTS = "data/06_models/mlflow_artifacts"


def test_a_moved_checkpoint_has_its_source_paths_re_rooted(tmp_path):
    old, new = tmp_path / "proj", tmp_path / "copy"
    checkpoint = new / "data/_checkpoints/bronze"
    (checkpoint / "sources/0").mkdir(parents=True)
    (checkpoint / "_location").write_text(str(old / "data/_checkpoints/bronze"))
    log = checkpoint / "sources/0/0"
    log.write_text(f'v1\n{{"path":"file://{old}/data/landing/a.json"}}\n')
    (checkpoint / "sources/0/.0.crc").write_bytes(b"stale")

    reroot_checkpoint(str(checkpoint))

    assert log.read_text() == f'v1\n{{"path":"file://{new}/data/landing/a.json"}}\n'
    assert not (checkpoint / "sources/0/.0.crc").exists()
    assert (checkpoint / "_location").read_text() == str(checkpoint)
    reroot_checkpoint(str(checkpoint))  # where it was: nothing changes
    assert log.read_text().count(str(new)) == 1


def test_a_new_checkpoint_remembers_where_it_is(tmp_path):
    checkpoint = tmp_path / "data/_checkpoints/scores"
    reroot_checkpoint(str(checkpoint))
    assert (checkpoint / "_location").read_text() == str(checkpoint)


def test_a_moved_mlflow_store_points_its_artifacts_at_the_new_folder(tmp_path):
    old, new = tmp_path / "proj", tmp_path / "copy"
    db = tmp_path / "mlflow.db"
    client = MlflowClient(f"sqlite:///{db}")
    experiment = client.create_experiment("e", artifact_location=(old / ARTIFACTS).as_uri())
    run = client.create_run(experiment)

    reroot_mlflow_store(db, "e", str(new / ARTIFACTS))

    client = MlflowClient(f"sqlite:///{db}")
    assert client.get_experiment(experiment).artifact_location == (new / ARTIFACTS).as_uri()
    assert client.get_run(run.info.run_id).info.artifact_uri.startswith(
        f"{(new / ARTIFACTS).as_uri()}/")


def test_relative_sqlite_uris_are_taken_under_the_project(tmp_path):
    conf = {"server": {"mlflow_tracking_uri": "sqlite:///data/mlflow.db",
                       "mlflow_registry_uri": "databricks-uc"},
            "tracking": {"experiment": {"name": "e"}}}
    anchored = anchor_mlflow_conf(conf, tmp_path)
    assert anchored["server"] == {"mlflow_tracking_uri": f"sqlite:///{tmp_path}/data/mlflow.db",
                                  "mlflow_registry_uri": "databricks-uc"}
    assert conf["server"]["mlflow_tracking_uri"] == "sqlite:///data/mlflow.db"  # not mutated
    assert not Path(tmp_path / "data").exists()  # nothing created
