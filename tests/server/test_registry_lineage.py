"""The registry's lineage reads follow composites as a workspace does, on both backends:
a step that read one file of a directory another step wrote depends on that step."""

from __future__ import annotations

import json

import blake3
import requests

from roar.objects.job import ArtifactRef, Job
from roar.objects.tree import Tree, TreeEntry
from roar.sessions import append


def test_reading_one_file_of_a_composite_is_an_edge(make_user, cli_as, glaas):
    # given: @1 writes shards/ (a composite), @2 reads one file of it
    alice = make_user("alice")
    ws, root = alice.ws, bytes(alice.ws.root)
    shard = blake3.blake3(b"shard-0" + root).hexdigest()
    model = blake3.blake3(b"model" + root).hexdigest()
    tree = ws.objects.write(Tree.of([TreeEntry(b"part-0.bin", shard, 7)]))
    writes = Job("run", (b"python", b"shard.py"), root, 1, 2, 0,
                 outputs=(ArtifactRef(root + b"/shards", tree, 7, "tree"),))  # fmt: skip
    reads = Job("run", (b"python", b"train.py"), root, 3, 4, 0,
                inputs=(ArtifactRef(root + b"/shards/part-0.bin", shard, 7),),
                outputs=(ArtifactRef(root + b"/model.pt", model, 5),))  # fmt: skip
    for job in (writes, reads):
        append(ws, ws.objects.write(job), "run")
    head = json.loads(cli_as(alice, "register", "--json").stdout)["target"]["hash"]
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
    assert bob.ws.objects.contains(writes.id) and bob.ws.objects.contains(tree)
