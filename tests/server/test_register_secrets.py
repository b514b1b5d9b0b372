"""No secret leaves the machine (issue #11, item 10), on SQLite and PostgreSQL.

A pipeline is recorded with `roar run` in a real git repository whose remote
URL, working directory, output file name, uncommitted patch, flags and
re-run parameters all hold secrets; after `roar register -y` none of them
is in any row or object the registry stored, in any page it serves, or in
what another user fetches, and the job's label survived the redaction.
"""

from __future__ import annotations

import json
import subprocess

import requests
import zstandard
from sqlalchemy import create_engine, select

from roar.server import schema

GIT = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
GITHUB = "ghp_" + "Remote0Url0Token0" + "x" * 20  # in the git remote URL
CWD_TOKEN = "ghp_" + "Working0Dir0Token" + "y" * 20  # in the working directory's name
FILE_TOKEN = "sk_live_" + "FileName0Token0z"  # in an output's file name
PATCH_KEY = "patchKey0123456"  # assigned in the uncommitted patch
REDIS = "redisPass0987"  # a redis:// password in the patch
DB_PASS = "dbPassFlag0999"  # --db-pass=... on the command line
API_KEY = "apiKeyParam0777"  # roar run @1 --api-key=...: argv and params
ENV = {
    "DB_PASS": "envDbPass0555",
    "MYSQL_PWD": "envMysql0444",
    "WANDB_KEY": "envWandb0333",
    "KAGGLE_KEY": "envKaggle0222",
    "SLACK_WEBHOOK_URL": "https://envSlack0111.example/x",
}
SECRETS = [GITHUB, CWD_TOKEN, FILE_TOKEN, PATCH_KEY, REDIS, DB_PASS, API_KEY, *ENV.values()]

STEP = """\
import sys, pathlib
pathlib.Path("out-{token}.csv").write_text(open("../input.csv").read() + " ".join(sys.argv))
"""


def in_dir(roar_cli, user, cwd, *args: str, ok: bool = True):  # type: ignore[no-untyped-def]
    """`roar ARGS` as `user` in `cwd`, with the secret environment variables set."""
    r = roar_cli(*args, cwd=cwd, env={**user.env, **ENV})
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def stored_text(database_url: str) -> bytes:
    """Every value of every row the registry stored; objects decompressed, paths
    (the index keeps them as bytes) as they are."""
    engine = create_engine(database_url)
    out = []
    with engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            for row in conn.execute(select(table)).all():
                for name, value in row._mapping.items():
                    if table is schema.objects and name == "frame":
                        out.append(zstandard.ZstdDecompressor().decompress(bytes(value)))
                    elif isinstance(value, (bytes, memoryview)):
                        out.append(bytes(value))
                    else:
                        out.append(str(value).encode())
    engine.dispose()
    return b"\n".join(out)


def test_register_sends_no_secret_from_any_field(glaas, make_user, cli_as, roar_cli):
    alice = make_user("alice", login=True)
    assert cli_as(alice, "scope", "use", "public").returncode == 0
    root = alice.ws.root
    (root / "input.csv").write_text("a,b\n")
    (root / "settings.py").write_text("DEBUG = True\n")
    (root / ".gitignore").write_text(".roar/\n")
    for args in (
        ["init", "-q"],
        ["add", "input.csv", "settings.py", ".gitignore"],
        ["commit", "-qm", "start"],
        ["remote", "add", "origin", f"https://alice:{GITHUB}@example.org/r.git"],
    ):
        subprocess.run([*GIT, *args], cwd=root, check=True)  # fmt: skip
    (root / "settings.py").write_text(
        f'DEBUG = True\nAPI_KEY = "{PATCH_KEY}"\nCACHE = "redis://:{REDIS}@cache:6379/0"\n'
    )
    run_dir = root / f"run-{CWD_TOKEN}"
    run_dir.mkdir()
    (run_dir / "step.py").write_text(STEP.format(token=FILE_TOKEN))
    # given: a step with a secret flag, re-run with a secret parameter, and labelled
    in_dir(roar_cli, alice, run_dir, "run", "python", "step.py", f"--db-pass={DB_PASS}")
    in_dir(roar_cli, alice, run_dir, "run", "@1", f"--api-key={API_KEY}")
    in_dir(roar_cli, alice, run_dir, "label", "set", "@1", "stage=prod")
    # when: register refuses without -y, then sends redacted copies
    refused = in_dir(roar_cli, alice, run_dir, "register", ok=False)
    assert refused.returncode == 9
    for where in ("argv", "context.git.remote", "cwd", "outputs[0].path", "patch line",
                  "context.params.api-key"):  # fmt: skip
        assert where in refused.stderr, where
    sent = json.loads(in_dir(roar_cli, alice, run_dir, "register", "-y", "--json").stdout)
    # then: no secret in any stored row or object
    stored = stored_text(glaas.database_url)
    for secret in SECRETS:
        assert secret.encode() not in stored, secret
    # nor in any page or twin anyone can open
    head = sent["target"]["hash"]
    session = requests.get(f"{glaas.url}/api/v1/sessions/{head}", timeout=30).json()
    pages = [f"/sessions/{head}", f"/api/v1/sessions/{head}", "/", "/api/v1/sessions"]
    for step in session["steps"]:
        pages += [f"/jobs/{step['job']}", f"/api/v1/jobs/{step['job']}",
                  f"/api/v1/lookup/{step['job']}", f"/dag/{step['job']}"]  # fmt: skip
        job = requests.get(f"{glaas.url}/api/v1/jobs/{step['job']}", timeout=30).json()
        pages += [f"/artifacts/{a['hash']}" for a in job["outputs"]]
    pages.append("/api/v1/search?file=out-")
    for page in pages:
        text = requests.get(glaas.url + page, timeout=30).text
        for secret in SECRETS:
            assert secret not in text, (page, secret)
    # and the redacted job kept its label, here and there
    live = session["steps"][-1]["job"]
    looked = requests.get(f"{glaas.url}/api/v1/lookup/{live}", timeout=30).json()
    assert looked["labels"] == {"stage": "prod"}
    assert alice.ws.refs.read(f"refs/labels/{live}") is not None
    assert alice.ws.refs.read("refs/sessions/main") == head
    # what another user fetches is clean too
    bob = make_user("bob")
    assert cli_as(bob, "fetch", head).returncode == 0
    fetched = b"".join(bob.ws.objects.read_raw(i) for i in bob.ws.objects.all_ids())
    for secret in SECRETS:
        assert secret.encode() not in fetched, secret
