"""The GLaaS web UI in a real browser: Debian's Chromium driven by Playwright.

A pipeline recorded with `roar run` is registered to a server the test
starts; the browser opens the link `roar register` printed and follows the
lineage by clicking, as a person would. With ROAR_SCREENSHOTS=1 (`make
screenshots`) the sqlite run saves the screenshots linked from the README
(docs/img/); otherwise it takes them in memory, so a test run never edits
tracked files.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import requests
from glaas_fixtures import record_pipeline
from pipeline import EVALUATE, PIPELINE, PREPROCESS, TRAIN, b3

IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def record_two_runs(user, cli_as) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The seed's pipeline, then @2 re-run with --epochs=12 and @3 after it."""
    root = user.ws.root
    for name, text in (
        ("preprocess.py", PREPROCESS),
        ("train.py", TRAIN),
        ("evaluate.py", EVALUATE),
    ):
        (root / name).write_text(text)
    (root / "data.csv").write_text("a,b\n1,2\n")
    for command in PIPELINE:
        r = cli_as(user, "run", *command.split())
        assert r.returncode == 0, r.stderr
    first = {"metrics": b3(root / "metrics.json"), "model": b3(root / "model.pt")}
    for args in (("run", "@2", "--epochs=12"), ("run", "@3")):
        r = cli_as(user, *args)
        assert r.returncode == 0, r.stderr
    return {
        "features": b3(root / "features.parquet"),
        "model_1": first["model"],
        "metrics_1": first["metrics"],
        "model": b3(root / "model.pt"),
        "metrics": b3(root / "metrics.json"),
    }


def printed_url(stdout: str) -> str:
    match = re.search(r"^view: (\S+)$", stdout, re.M)
    assert match, stdout
    return match.group(1)


def shoot(page, glaas, name: str) -> None:  # type: ignore[no-untyped-def]
    if glaas.backend != "sqlite":
        return
    if os.environ.get("ROAR_SCREENSHOTS") == "1":
        IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(IMG / f"{name}.png"), full_page=True)
    else:
        assert page.screenshot(full_page=True)[:8] == b"\x89PNG\r\n\x1a\n"


def click_dag_node(page, label_start: str) -> None:  # type: ignore[no-untyped-def]
    """Click, with the mouse, the node whose label starts with `label_start`."""
    page.wait_for_selector(".dag[data-ready='1']")
    point = page.evaluate(
        """start => {
            const cy = window.glaasDags[0];
            const node = cy.nodes().filter(n => n.data("label").startsWith(start))[0];
            const p = node.renderedPosition();
            const box = cy.container().getBoundingClientRect();
            return {x: box.left + p.x, y: box.top + p.y};
        }""",
        label_start,
    )
    page.mouse.click(point["x"], point["y"])


def test_follow_the_registered_lineage_in_a_browser(make_user, cli_as, glaas, new_page):
    # given: alice recorded the pipeline with roar run, re-ran @2 with another
    # parameter, and registered the session, then the model
    alice = make_user("alice")
    h = record_two_runs(alice, cli_as)
    assert cli_as(alice, "register", "-y").returncode == 0
    reg = cli_as(alice, "register", "-y", "model.pt")
    assert reg.returncode == 0, reg.stderr
    url = printed_url(reg.stdout)
    # the link names the server it pushed to, not the public default
    assert url == f"{glaas.url}/artifacts/{h['model']}"

    # when: a visitor opens the printed link
    page = new_page()
    page.goto(url)
    # then: the artifact page has the hash, its reproduce command and its producer
    assert page.inner_text("#artifact-hash") == h["model"]
    assert page.inner_text("#reproduce-command") == f"roar reproduce {h['model']}"
    assert "--epochs=12" in page.inner_text(".jobref.produced")
    page.wait_for_selector(".dag[data-ready='1']")
    shoot(page, glaas, "artifact")

    # artifact -> the job that produced it
    page.click(".jobref.produced a")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]{64}$"))
    assert page.inner_text("#job-command").endswith("--output model.pt --epochs=12")
    assert "step @2" in page.inner_text("table.kv")
    # job -> its input artifact
    page.click(f"#inputs a[title='{h['features']}']")
    page.wait_for_url(f"**/artifacts/{h['features']}")
    assert "preprocess.py" in page.inner_text(".jobref.produced")
    # input artifact -> its session
    page.click(".sessionref a")
    page.wait_for_url(re.compile(r"/sessions/[0-9a-f]{64}$"))
    rows = page.locator("#steps tbody tr")
    assert rows.count() == 5
    # in `roar dag --expanded`'s order: dependency order, a step's executions together
    steps = [(rows.nth(i).locator("td").first.inner_text(),
              rows.nth(i).locator("td").last.inner_text()) for i in range(5)]  # fmt: skip
    assert steps == [("@1", "current"), ("@2", "superseded"), ("@2", "current"),
                     ("@3", "superseded"), ("@3", "current")]  # fmt: skip
    shoot(page, glaas, "session")

    # the DAG view: click a node and land on its page
    page.goto(f"{glaas.url}/dag/{h['metrics']}")
    page.wait_for_selector(".dag[data-ready='1']")
    shoot(page, glaas, "dag")
    click_dag_node(page, "python preprocess.py")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]{64}$"))
    assert page.inner_text("#job-command").startswith("python preprocess.py")

    # the diff of the two runs, picked from the artifact page: params is the root cause
    page.goto(f"{glaas.url}/artifacts/{h['metrics']}")
    page.fill("form.inline-form input[name=b]", h["metrics_1"])
    page.click("form.inline-form button")
    page.wait_for_url(re.compile(r"/diff\?"))
    assert page.inner_text("#root-cause .category") == "params"
    assert "python train.py" in page.inner_text("#root-cause")
    assert "--epochs=12" in page.inner_text("#diff-params td.side-a")
    assert page.locator("#diff-params tbody tr").count() == 1
    assert page.locator("#diff-code tbody tr").count() == 0
    shoot(page, glaas, "diff")


def test_every_page_has_a_json_twin_with_the_same_data(make_user, cli_as, glaas):
    alice = make_user("alice")
    files = record_pipeline(alice.ws)
    reg = json.loads(cli_as(alice, "register", "-y", "--json").stdout)
    session = reg["target"]["hash"]
    art = requests.get(f"{glaas.url}/api/v1/artifacts/{files['model']}", timeout=10).json()
    assert [j["command"] for j in art["produced_by"]] == ["python train.py"]
    assert len(art["dag"]["nodes"]) == 4  # prep -> a.csv -> train -> model.pt
    page = requests.get(f"{glaas.url}/artifacts/{files['model']}", timeout=10).text
    assert f'href="/api/v1/artifacts/{files["model"]}"' in page
    for j in art["produced_by"] + art["consumed_by"]:
        assert f"/jobs/{j['job']}" in page
    sess = requests.get(f"{glaas.url}/api/v1/sessions/{session}", timeout=10).json()
    assert [s["command"] for s in sess["steps"]][1:] == ["python train.py", "python eval.py"]
    assert [s["depends_on"] for s in sess["steps"]] == [[], ["@1"], ["@1", "@2"]]
    recent = requests.get(f"{glaas.url}/api/v1/sessions", timeout=10).json()
    assert session in [s["session"] for s in recent["recent_sessions"]]
    # a pasted prefix lands on the page; search filters by file name
    landed = requests.get(f"{glaas.url}/?q={files['model'][:10]}", timeout=10)
    assert landed.url.endswith(f"/artifacts/{files['model']}")
    found = requests.get(f"{glaas.url}/api/v1/search?file=metrics.json", timeout=10).json()
    assert any(j["command"] == "python eval.py" for j in found["jobs"])


def test_private_session_is_404_to_a_visitor_and_renders_for_its_owner(
    make_user, cli_as, glaas, new_page
):
    # given: bob is logged in, so he registers privately
    bob = make_user("bob", login=True)
    files = record_pipeline(bob.ws)
    reg = json.loads(cli_as(bob, "register", "--json").stdout)
    assert reg["scope"] == "private"
    session = reg["target"]["hash"]
    # when: an anonymous visitor opens the session and the model
    visitor = new_page()
    resp = visitor.goto(f"{glaas.url}/sessions/{session}")
    # then: 404, and nothing of the session is in the HTML
    assert resp.status == 404
    assert "train.py" not in visitor.content()
    assert requests.get(f"{glaas.url}/api/v1/sessions/{session}", timeout=10).status_code == 404
    visitor.goto(f"{glaas.url}/artifacts/{files['model']}")
    assert "not visible to you" in visitor.inner_text("main")  # existence is global
    assert "train.py" not in visitor.content()

    # when: bob asks for a browser login link and opens it
    login = cli_as(bob, "login", "--web")
    assert login.returncode == 0, login.stderr
    link = login.stdout.strip().splitlines()[-1]
    assert link.startswith(f"{glaas.url}/login/")
    owner = new_page()
    owner.goto(link)
    # the link itself signs nobody in: the page names the account and asks
    assert owner.inner_text("#login-account") == bob.name
    assert "anonymous" in owner.inner_text("header")
    owner.click("#login-confirm")
    owner.wait_for_url(f"{glaas.url}/")
    assert f"signed in as {bob.name}" in owner.inner_text("header")
    # then: the session renders for him
    resp = owner.goto(f"{glaas.url}/sessions/{session}")
    assert resp.status == 200
    assert "python train.py" in owner.inner_text("#steps")
    # and the link worked once: the visitor cannot reuse it
    assert visitor.goto(link).status == 404
    assert visitor.goto(f"{glaas.url}/sessions/{session}").status == 404


def test_register_prints_the_configured_web_url_when_one_is_set(make_user, cli_as):
    alice = make_user("alice")
    record_pipeline(alice.ws)
    alice.ws.config.set("glaas.web_url", "https://lineage.example.org/")
    out = json.loads(cli_as(alice, "register", "-y", "--json").stdout)
    assert out["url"] == f"https://lineage.example.org/sessions/{out['target']['hash']}"
