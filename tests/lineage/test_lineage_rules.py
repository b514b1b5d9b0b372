"""The rules of docs/lineage.md, each checked against every LineageSource.

Each test builds a small world of jobs and sessions and states the right
answer; the `source_of` fixture serves the same world from memory, from an
object store, and from the session index.
"""

from __future__ import annotations

from worlds import SourceMaker, World, h

from roar.lineage import chain as chains
from roar.lineage.closure import upstream
from roar.lineage.producers import Facts, producer_of
from roar.lineage.source import Named
from roar.lineage.views import session_dag

MAIN = "refs/sessions/main"


def _pipeline(w: World) -> dict[str, str]:
    """prep -> train -> evaluate, then train re-run with another learning rate."""
    jobs = {
        "prep": w.job("python prep.py", ["data.csv"], ["features"]),
        "train": w.job("python train.py", ["features"], ["model-1"]),
        "eval": w.job("python eval.py", ["model-1"], ["metrics"]),
    }
    w.step(jobs["prep"], 1)
    w.step(jobs["train"], 2)
    w.step(jobs["eval"], 3)
    jobs["rerun"] = w.job("python train.py --lr=0.5", ["features"], ["model-2"])
    w.step(jobs["rerun"], 2, supersedes=jobs["train"])
    return jobs


def test_the_newest_execution_of_a_step_is_live(source_of: SourceMaker) -> None:
    w = World()
    jobs = _pipeline(w)
    src = source_of(w)
    chain = src.chain(w.refs[MAIN])
    assert [(s.label, s.job, s.superseded) for s in chain] == [
        ("@1", jobs["prep"], False),
        ("@2", jobs["train"], True),
        ("@3", jobs["eval"], False),
        ("@2", jobs["rerun"], False),
    ]
    assert chains.find_step(chain, "@2").job == jobs["rerun"]
    # A session object in the middle names the session as of that step.
    before_rerun = chain[2].session_object
    assert [(s.label, s.superseded) for s in src.chain(before_rerun)] == [
        ("@1", False),
        ("@2", False),
        ("@3", False),
    ]


def test_a_superseded_job_still_produced_what_it_wrote(source_of: SourceMaker) -> None:
    w = World()
    jobs = _pipeline(w)
    src = source_of(w)
    assert producer_of(src, h("model-1")) == jobs["train"]
    assert producer_of(src, h("model-2")) == jobs["rerun"]
    lin = upstream(src, hashes=[h("model-1")])
    assert list(lin.jobs) == [jobs["train"], jobs["prep"]]
    assert lin.roots == [h("data.csv")]


def test_the_live_execution_wins_when_a_rerun_wrote_the_same_bytes(
    source_of: SourceMaker,
) -> None:
    w = World()
    first = w.job("python train.py", ["features"], ["model"])
    w.step(first, 1)
    again = w.job("python train.py", ["features"], ["model"])
    w.step(again, 1, supersedes=first)
    assert producer_of(source_of(w), h("model")) == again


def test_a_consumer_read_what_existed_when_it_started(source_of: SourceMaker) -> None:
    w = World()
    early = w.job("python make.py", [], ["shared"], started=10, ended=11)
    reader = w.job("python use.py", ["shared"], ["result"], started=20, ended=21)
    late = w.job("python make.py --again", [], ["shared"], started=30, ended=31)
    w.step(early, 1)
    w.step(reader, 2)
    w.step(late, 1, ref="refs/sessions/other")
    src = source_of(w)
    assert producer_of(src, h("shared")) == late  # asked by nobody: the newest
    assert upstream(src, jobs=[reader]).parents[reader] == [early]


def test_standing_ranks_live_then_unattached_then_superseded(source_of: SourceMaker) -> None:
    w = World()
    live = w.job("python a.py", [], ["x"], started=10, ended=11)
    w.job("python b.py", [], ["x"], started=20, ended=21)  # unattached
    old = w.job("python c.py", [], ["x"], started=30, ended=31)
    rerun = w.job("python c.py --v2", [], ["y"], started=40, ended=41)
    w.step(live, 1)
    w.step(old, 2)
    w.step(rerun, 2, supersedes=old)
    assert producer_of(source_of(w), h("x")) == live

    w2 = World()
    unattached2 = w2.job("python b.py", [], ["x"], started=20, ended=21)
    old2 = w2.job("python c.py", [], ["x"], started=30, ended=31)
    w2.step(old2, 1)
    w2.step(w2.job("python c.py --v2", [], ["y"], started=40, ended=41), 1, supersedes=old2)
    assert producer_of(source_of(w2), h("x")) == unattached2


def test_success_then_recency_then_the_smallest_id(source_of: SourceMaker) -> None:
    w = World()
    ok = w.job("python a.py", [], ["x"], started=10, ended=11)
    w.job("python a.py --crash", [], ["x"], started=20, ended=21, exit_code=1)
    assert producer_of(source_of(w), h("x")) == ok

    w2 = World()
    twins = sorted(w2.job(f"python twin{i}.py", [], ["x"], started=10, ended=11) for i in range(3))
    assert producer_of(source_of(w2), h("x")) == twins[0]


def test_a_file_inside_a_composite_was_written_by_the_composite_job(
    source_of: SourceMaker,
) -> None:
    w = World()
    writer = w.job("python shard.py", ["data"], trees={"shards": ["s1", "s2"]})
    reader = w.job("python read_one.py", ["s1"], ["out"])
    w.step(writer, 1)
    w.step(reader, 2)
    src = source_of(w)
    tree = next(a.hash for a in src.jobs([writer])[writer].outputs)
    assert src.members([tree]) == {tree: (h("s1"), h("s2"))}
    assert src.writers([h("s1")]) == {h("s1"): {writer}}
    assert upstream(src, hashes=[h("out")]).parents[reader] == [writer]
    dag = session_dag(Facts(src), MAIN, w.refs[MAIN])
    assert [(n.view.step.label, n.depends_on) for n in dag.nodes if n.view.step] == [
        ("@1", []),
        ("@2", ["@1"]),
    ]


def test_a_job_is_not_its_own_producer(source_of: SourceMaker) -> None:
    w = World()
    first = w.job("python make.py", [], ["config"])
    rewrite = w.job("python touch.py", ["config"], ["config"])  # rewrote it unchanged
    w.step(first, 1)
    w.step(rewrite, 2)
    src = source_of(w)
    assert producer_of(src, h("config")) == rewrite
    lin = upstream(src, hashes=[h("config")])
    assert list(lin.jobs) == [rewrite, first]
    assert lin.parents == {rewrite: [first], first: []}


def test_lineage_continues_into_a_fetched_lineage(source_of: SourceMaker) -> None:
    w = World()  # Alice's jobs arrived by fetch: no local session holds them
    alice_prep = w.job("python prep.py", ["corpus"], ["tokens"])
    alice = w.job("python train.py", ["tokens"], ["checkpoint"])
    bob = w.job("python continue.py --from-checkpoint checkpoint.pt", ["checkpoint"], ["cont"])
    w.step(bob, 1)
    src = source_of(w)
    assert src.placements([alice, bob]).keys() == {bob}
    lin = upstream(src, hashes=[h("cont")])
    assert list(lin.jobs) == [bob, alice, alice_prep]
    assert lin.roots == [h("corpus")]
    assert lin.depth() == {alice_prep: 0, alice: 1, bob: 2}


def test_a_lineage_with_a_cycle_ends(source_of: SourceMaker) -> None:
    w = World()
    a = w.job("python a.py", ["x"], ["y"])
    b = w.job("python b.py", ["y"], ["x"])
    w.step(a, 1)
    w.step(b, 2)
    lin = upstream(source_of(w), hashes=[h("y")])
    assert set(lin.jobs) == {a, b}
    assert set(lin.depth()) == {a, b}


def test_dag_order_is_topological_and_staleness_follows_content(source_of: SourceMaker) -> None:
    w = World()
    jobs = _pipeline(w)
    report = w.job("python report.py", ["metrics"], ["report"])
    w.step(report, 4)
    dag = session_dag(Facts(source_of(w)), MAIN, w.refs[MAIN])
    assert [(n.view.id, n.depends_on, n.stale) for n in dag.nodes] == [
        (jobs["prep"], [], False),
        (jobs["rerun"], ["@1"], False),
        (jobs["eval"], ["@2"], True),  # read model-1, which @2 no longer writes
        (report, ["@3"], True),  # read from a stale step
    ]
    expanded = session_dag(Facts(source_of(w)), MAIN, w.refs[MAIN], expanded=True)
    assert [(n.view.step.label, n.view.id) for n in expanded.nodes if n.view.step] == [
        ("@1", jobs["prep"]),
        ("@2", jobs["train"]),
        ("@2", jobs["rerun"]),
        ("@3", jobs["eval"]),
        ("@4", report),
    ]


def test_a_rerun_with_the_same_bytes_leaves_nothing_stale(source_of: SourceMaker) -> None:
    w = World()
    prep = w.job("python prep.py", ["data"], ["features"])
    train = w.job("python train.py", ["features"], ["model"])
    w.step(prep, 1)
    w.step(train, 2)
    w.step(w.job("python prep.py", ["data"], ["features"], started=500), 1, supersedes=prep)
    dag = session_dag(Facts(source_of(w)), MAIN, w.refs[MAIN])
    assert [(n.view.step.label, n.stale) for n in dag.nodes if n.view.step] == [
        ("@1", False),
        ("@2", False),
    ]


def test_placements_cover_local_and_remote_tracking_sessions(source_of: SourceMaker) -> None:
    w = World()
    mine = w.job("python a.py", [], ["x"])
    theirs = w.job("python b.py", [], ["y"])
    w.step(mine, 1)
    w.step(theirs, 1, ref="refs/remotes/origin/sessions/main")
    src = source_of(w)
    main, origin = source_of.ref(MAIN), source_of.ref("refs/remotes/origin/sessions/main")
    placed = src.placements([mine, theirs])
    assert [(p.ref, p.step.label) for p in placed[mine]] == [(main, "@1")]
    assert [(p.ref, p.step.label) for p in placed[theirs]] == [(origin, "@1")]
    assert src.session_refs() == {
        main: w.refs[MAIN],
        origin: w.refs["refs/remotes/origin/sessions/main"],
    }


def test_prefixes_name_objects_and_artifact_hashes(source_of: SourceMaker) -> None:
    w = World()
    job = w.job("python shard.py", ["data"], trees={"shards": ["s1"]})
    head = w.step(job, 1)
    src = source_of(w)
    tree = next(a.hash for a in src.jobs([job])[job].outputs)
    assert src.named(job[:8], 5) == [Named(job, "job")]
    assert src.named(head[:10], 5) == [Named(head, "session")]
    assert src.named(tree[:9], 5) == [Named(tree, "tree")]
    assert src.named(h("data")[:12], 5) == [Named(h("data"), "file")]
    assert src.named(h("s1")[:12], 5) == [Named(h("s1"), "file")]


def test_readers_include_composite_inputs(source_of: SourceMaker) -> None:
    w = World()
    tree = w.tree(["a", "b"])
    put = w.job("roar put shards s3://bucket/", read_trees=[tree], type="put")
    src = source_of(w)
    assert src.readers([tree, h("a")]) == {tree: {put}, h("a"): {put}}


def test_the_index_decides_edges_by_the_same_rule_as_steps_arrive(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The index applies `step_reads` one step at a time; the result is the rule's."""
    from roar.index.source import IndexSource
    from roar.lineage import dag
    from roar.lineage.objectsource import ObjectSource
    from roar.workspace import Workspace

    w = World()
    steps = _pipeline(w)
    w.step(w.job("python report.py", ["metrics", "model-2"], ["report"]), 4)
    ws, _ = Workspace.create(tmp_path)
    for obj in w.objects.values():
        ws.objects.write(obj)
    src = IndexSource(ws)
    for step in ObjectSource.in_memory(w.objects, w.refs).chain(w.refs[MAIN]):
        ws.refs.update(MAIN, step.session_object)  # steps arrive one at a time, as runs do
        src.index.sync(MAIN)
    chain = src.chain(w.refs[MAIN])
    facts = Facts(src)
    jobs = facts.jobs(s.job for s in chain)
    expected = dag.session_reads(
        chain, lambda s: (a.hash for a in jobs[s.job].inputs), lambda s: facts.writes(jobs[s.job])
    )
    assert src.index.reads(MAIN, range(len(chain))) == {i: r for i, r in enumerate(expected) if r}
    # The reads that can make a step stale: eval read model-1 from the replaced train.
    assert src.index.stale_reads(MAIN) == {"@3": [dag.Read("@2", steps["train"], h("model-1"))]}


def test_members_come_in_bytewise_path_order(source_of: SourceMaker) -> None:
    """As the tree object lists them, whatever the database's collation: upper case
    before `_` before lower case before non-ASCII (a locale's order differs)."""
    from roar.objects.tree import Tree, TreeEntry

    w = World()
    names = ["é.bin", "a.bin", "_.bin", "B.bin"]
    tree = w.add(Tree.of([TreeEntry(n.encode(), h(n), 1) for n in names]))
    w.job("python shard.py", reads=["data"], read_trees=[tree])
    assert source_of(w).members([tree]) == {
        tree: tuple(h(n) for n in sorted(names, key=str.encode))
    }
    assert [h(n) for n in ("B.bin", "_.bin", "a.bin", "é.bin")] == list(
        source_of(w).members([tree])[tree]
    )
