"""The registry's lineage reads follow composites as a workspace does, on both backends:
a step that read one file of a directory another step wrote depends on that step."""

from __future__ import annotations

import json

import requests
from glaas_fixtures import record_composite_pipeline


def test_reading_one_file_of_a_composite_is_an_edge(make_user, cli_as, glaas):
    # given: @1 writes shards/ (a composite), @2 reads one file of it
    alice = make_user("alice")
    made = record_composite_pipeline(alice.ws)
    model = made["model"]
    head = json.loads(cli_as(alice, "register", "-y", "--json").stdout)["target"]["hash"]
    # then: the session page draws the edge, the model's DAG reaches shard.py
    session = requests.get(f"{glaas.url}/api/v1/sessions/{head}", timeout=30).json()
    assert [s["depends_on"] for s in session["steps"]] == [[], ["@1"]]
    assert session["dag"]["edges"] != []
    dag = requests.get(f"{glaas.url}/api/v1/dag/{model}", timeout=30).json()["dag"]
    labels = {n["label"] for n in dag["nodes"] if n["kind"] == "job"}
    assert labels == {"python shard.py", "python train.py"}
    # and a fetch of the model brings the composite's writer
    bob = make_user("bob")
    assert cli_as(bob, "fetch", model).returncode == 0
    assert bob.ws.objects.contains(made["writer"]) and bob.ws.objects.contains(made["tree"])
