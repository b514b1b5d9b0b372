"""The registry's job page marks which packages of the environment the job read by
the rule `roar show` uses (roar.capture.packages), from the recorded facts only."""

from __future__ import annotations

import requests

from roar.objects.env import Env
from roar.objects.job import ArtifactRef, Job
from roar.sessions import append


def test_the_registry_marks_the_packages_a_job_read_from_the_record_only(make_user, cli_as, glaas):  # type: ignore[no-untyped-def]
    # given: a job that imported one package (as a compiled module) and had its
    # neighbour's metadata scanned, in a venv that exists on no disk
    alice = make_user("alice")
    site = b"/nowhere/venv/lib/python3.11/site-packages"
    python = {"version": "3.11.7", "executable": "/nowhere/venv/bin/python"}
    packages = (("inflection", "0.5.1"), ("pip", "23.2.1"))
    env = alice.ws.objects.write(Env(os={}, cpu={}, memory=1, python=python, packages=packages))
    out = ArtifactRef(bytes(alice.ws.root) + b"/out.txt", "ab" * 32, 3)
    job = Job("run", (b"python", b"x.py"), bytes(alice.ws.root), 1, 2, 0, outputs=(out,),
              filtered=(site + b"/inflection/__pycache__/__init__.cpython-311.pyc",
                        site + b"/pip-23.2.1.dist-info/METADATA"),
              context={"env": env})  # fmt: skip
    job_id = alice.ws.objects.write(job)
    append(alice.ws, job_id, "run")
    assert cli_as(alice, "register", "-y").returncode == 0
    # when: its page's JSON twin is read
    page = requests.get(f"{glaas.url}/api/v1/jobs/{job_id}", timeout=30).json()
    # then: the imported package is marked read, the scanned metadata is not
    read = {p["name"]: p["read"] for p in page["environment"]["packages"]}
    assert read == {"inflection": True, "pip": False}
