"""`roar diff` names what changed between two runs, and the likely root cause."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline import run_pipeline

MODEL_STEP = "python train.py"


def final_hashes(roar_cli) -> dict[str, str]:  # type: ignore[no-untyped-def]
    nodes = json.loads(roar_cli("dag", "--json").stdout)["nodes"]
    return {Path(a["path"]).name: a["hash"] for n in nodes for a in n["outputs"]}


def two_runs(roar_cli, change) -> tuple[dict[str, str], dict[str, str]]:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    run_pipeline(roar_cli)
    first = final_hashes(roar_cli)
    assert roar_cli("reset", "-y").returncode == 0
    change()
    run_pipeline(roar_cli)
    return first, final_hashes(roar_cli)


def diff(roar_cli, a: str, b: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    result = roar_cli("diff", a, b, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_changed_input_data_is_the_root_cause(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    first, second = two_runs(roar_cli, lambda: (project / "data.csv").write_text("a,b\n30,40\n"))
    result = diff(roar_cli, first["metrics.json"], second["metrics.json"])
    assert result["root_cause"]["category"] == "data"
    assert result["root_cause"]["step"] == "python preprocess.py"
    assert result["root_cause"]["detail"] == "input data.csv differs"
    assert result["differences"]["code"] == [] and result["differences"]["params"] == []


def test_changed_script_is_code(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    script = project / "train.py"
    v2 = script.read_text().replace('f"epochs={a.epochs}', 'f"epochs: {a.epochs}')

    first, second = two_runs(roar_cli, lambda: script.write_text(v2))
    result = diff(roar_cli, first["model.pt"], second["model.pt"])
    assert (result["root_cause"]["category"], result["root_cause"]["step"]) == ("code", MODEL_STEP)
    assert result["root_cause"]["detail"] == "train.py differs"
    assert result["differences"]["data"] == []


def test_one_changed_parameter_is_params(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    run_pipeline(roar_cli)
    first = final_hashes(roar_cli)
    assert roar_cli("run", "@2", "--epochs=12").returncode == 0
    assert roar_cli("run", "@3").returncode == 0
    second = final_hashes(roar_cli)
    assert first["metrics.json"] != second["metrics.json"]
    result = diff(roar_cli, first["metrics.json"], second["metrics.json"])
    assert result["root_cause"]["category"] == "params"
    assert result["root_cause"]["step"] == MODEL_STEP
    assert result["root_cause"]["detail"] == "arguments differ: +--epochs=12"
    assert [d["category"] for c in result["differences"].values() for d in c] == ["params"]


def test_added_step_is_pipeline_and_sessions_compare(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    run_pipeline(roar_cli)
    roar_cli("reset", "-y")
    run_pipeline(roar_cli)
    assert (
        roar_cli(
            "run", "python", "-c", "open('report.txt','w').write(open('metrics.json').read())"
        ).returncode
        == 0
    )
    new_session = json.loads(roar_cli("status", "--json").stdout)["session"]
    result = diff(roar_cli, "main", new_session)
    assert result["a"]["kind"] == result["b"]["kind"] == "session"
    assert result["root_cause"]["category"] == "pipeline"
    assert [d["detail"] for d in result["differences"]["pipeline"]] == ["step only in B"]


def test_identical_reruns_have_no_difference(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    first, second = two_runs(roar_cli, lambda: None)
    assert first == second
    text = roar_cli("diff", "@1", "@1")
    assert (
        text.stdout.splitlines()[-1]
        == "no differences in code, data, params, environment or pipeline"
    )


def test_a_changed_variable_is_environment(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    def change() -> None:
        assert roar_cli("env", "set", "SEED", "2").returncode == 0

    first, second = two_runs(roar_cli, change)
    jobs = [r["job"] for r in json.loads(roar_cli("log", "--json").stdout)]
    result = diff(roar_cli, "main", json.loads(roar_cli("status", "--json").stdout)["session"])
    assert result["root_cause"]["category"] == "environment"
    assert "SEED" in result["root_cause"]["detail"]
    assert jobs  # the second session has its jobs
