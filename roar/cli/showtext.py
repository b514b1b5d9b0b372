"""`roar show` as text, in roar-cli 0.4.7's layout (docs/roar-cli-compat.md, `roar show`).

Each function takes what `roar show --json` prints (plus labels) and returns
the lines; every recorded value passes through `printable`.
"""

from __future__ import annotations

import os
import time
from typing import Any

from roar.display import printable
from roar.index.session_index import status_word


def size_text(n: int | None) -> str:
    """roar-cli's sizes: `21B`, `17.2KB`, `3.4MB` (powers of 1024)."""
    if n is None:
        return "?"
    value, unit = float(n), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            break
        value /= 1024
    return f"{n}B" if unit == "B" else f"{value:.1f}{unit}"


def when(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ns / 1e9))


def plural(n: int, noun: str) -> str:
    """`1 job`, `2 jobs`: roar-cli's counts in `show`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _labels(labels: dict[str, Any]) -> list[str]:
    shown = {k: v for k, v in labels.items() if not k.startswith("roar.")}
    if not shown:
        return []
    return ["", "Labels:", *(printable(f"  {k}={_value(v)}") for k, v in sorted(shown.items()))]


def _value(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _where(job: dict[str, Any]) -> str:
    """Ours, after roar-cli's job line: the step and whether it was replaced."""
    notes = [job["step"]] if job.get("step") else ["in no session"]
    if job.get("superseded"):
        notes.append("superseded")
    return f"  ({', '.join(notes)})"


def artifact(data: dict[str, Any], labels: dict[str, dict[str, Any]]) -> list[str]:
    digest = data["artifact"]
    producer = data["produced_by"]
    path = data.get("path")
    if path is None and producer:
        path = next((o["path"] for o in producer["outputs"] if o["hash"] == digest), None)
    others = sorted(data.get("digests", {}).items())
    if not others:
        lines = [f"Hash (blake3):  {digest}"]
        if path:
            lines.append(printable(f"                ≡ b3sum {path}"))
    else:  # roar-cli's layout for an artifact with more than one hash
        lines = ["Hashes:", f"  blake3: {digest}"]
        if path:
            lines.append(printable(f"    ≡ b3sum {path}"))
        lines += [f"  {algo}: {value}" for algo, value in others]
    if data.get("source"):  # roar-cli's line for an artifact looked up on the registry
        lines.append(f"Source:     {data['source']}")
    lines.append(f"Size:       {size_text(data.get('size'))}")
    lines.append(printable(f"Path:       {path or '(not known here)'}"))
    if data.get("first_seen_ns"):
        lines.append(f"First seen: {when(data['first_seen_ns'])}")
    lines += _labels(labels.get(digest, {}))
    lines.append("")
    if producer:
        lines.append("Produced by (1 job):")
        lines.append(printable(f"  {producer['id'][:8]}  {producer['command']}") + _where(producer))
    elif data["read_by"]:
        lines.append("Produced by: no recorded job (a root input)")
    elif data.get("hidden"):
        lines.append("Produced by: none you may see (registered; its jobs are not visible to you)")
    else:
        lines.append("Produced by: none (no recorded job read or wrote these bytes)")
    if data["read_by"]:
        lines += ["", f"Consumed by ({plural(len(data['read_by']), 'job')}):"]
        for r in reversed(data["read_by"]):  # newest first, as roar-cli lists them
            lines.append(printable(f"  {r['job_uid']}  {r['command']}"))
    return lines


def remote_artifact(page: dict[str, Any]) -> list[str]:
    """`roar show --remote` of an artifact: `artifact`'s layout, as roar-cli shows an
    artifact found on GLaaS (`Source:     GLaaS`, the one producer), from the
    registry's artifact page data (docs/protocol.md §8). Nothing from a server is
    trusted: a field of the wrong type is shown as unknown, every text escaped."""
    digest = str(page.get("hash"))
    producer = _dict(page.get("producer"))
    writers = [w for w in _list(page.get("produced_by")) if isinstance(w, dict)]
    paths = [p for p in (_path(w.get("path")) for w in writers) if p is not None]
    paths += [p for p in map(_path, _list(page.get("paths"))) if p is not None]
    data = {
        "artifact": digest,
        "source": "GLaaS",
        "digests": {
            k: v
            for k, v in _dict(page.get("digests")).items()
            if k != "blake3" and isinstance(v, str)
        },  # fmt: skip
        "size": _int(page.get("size")),
        "path": paths[0] if paths else None,
        "first_seen_ns": _int(page.get("registered_ns")),
        "produced_by": {
            "id": str(producer.get("job")),
            "command": str(producer.get("command") or "?"),
            "step": producer.get("step") if isinstance(producer.get("step"), str) else None,
            "superseded": producer.get("superseded") is True,
        }
        if producer.get("job")
        else None,  # fmt: skip
        "read_by": [
            {"job_uid": str(r.get("job"))[:8], "command": str(r.get("command") or "?")}
            for r in _list(page.get("consumed_by"))
            if isinstance(r, dict)
        ],
        "hidden": page.get("visible") is False,
    }
    labels = {k: v for k, v in _dict(page.get("labels")).items() if isinstance(k, str)}
    return artifact(data, {digest: labels})


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _path(value: Any) -> str | None:
    """A path of the registry's JSON (pathjson's one form) as text `printable` escapes."""
    from roar.pathjson import from_json

    try:
        return os.fsdecode(from_json(value))
    except ValueError:
        return None


def job(data: dict[str, Any], labels: dict[str, dict[str, Any]], show_all: bool) -> list[str]:
    step = data.get("step") or "-"
    status = f"exit {data['exit_code']}" + (" (interrupted)" if data.get("interrupted") else "")
    lines = [
        f"Job:       {step}  ·  {data['id'][:8]}  ·  {status}  ·  {data['duration_s']:.1f}s"
        f"  ·  {when(data['started_ns'])}",
        f"Identity:  {data['id']}",
    ]
    git = data.get("git")
    if git and git.get("commit"):
        dirty = "  (dirty: patch recorded)" if git.get("dirty") else ""
        lines.append(
            printable(f"Source:    {git.get('branch') or '-'} @ {git['commit'][:7]}{dirty}")
        )
    if data.get("superseded") or data.get("session"):
        where = data["session"] or "(in no session)"
        lines.append(f"Session:   {where}" + (", superseded" if data.get("superseded") else ""))
    lines += _labels(labels.get(data["id"], {}))
    lines += ["", printable(f"  $ {data['command']}"), ""]
    for title, arts in (("Inputs", data["inputs"]), ("Outputs", data["outputs"])):
        lines.append(f"{title} ({len(arts)}):")
        for a in arts:
            kind = "  [composite]" if a["kind"] == "tree" else ""
            lines.append(
                printable(f"  blake3:{a['hash'][:12]}…{size_text(a['size']):>12}  {a['path']}")
                + kind
            )
            lines += [f"    {algo}:{value}" for algo, value in sorted(a.get("digests", {}).items())]
        lines.append("")
    if "repo_files" in data:  # output.track_repo_files
        files = data["repo_files"]
        if files is None:
            lines += ["Repo files: (the recorded commit cannot be read here)", ""]
        else:
            lines.append(f"Repo files ({len(files)}):")
            lines += [printable(f"  {f}") for f in files] + [""]
    read = data.get("packages_read", {})
    pip, dpkg = read.get("pip", []), read.get("dpkg", [])
    lines.append("Environment:")
    lines.append(f"  packages: {len(pip)} pip · {len(dpkg)} dpkg" + ("" if show_all else
                 " (--all for full lists)"))  # fmt: skip
    if show_all:
        lines += [printable(f"    {p}") for p in (*pip, *dpkg)]
    for code in read.get("code", []):  # editable installs: code, with their commit
        at = f" @ {code['commit'][:12]}" if code.get("commit") else ""
        where = code.get("remote") or code.get("repo") or code["path"]
        dirty = " (dirty)" if code.get("dirty") else ""
        lines.append(printable(f"  code:     {code['name']} {code['version']}{at}{dirty}  {where}"))
    return lines


def session(facts: Any, data: dict[str, Any]) -> list[str]:
    """The session: its head id, first step time and commit, every execution."""
    head = data["head"]
    if head is None:
        return ["", "Session:   (empty: no steps yet)"]
    chain = facts.source.chain(head)
    jobs = facts.jobs(s.job for s in chain)
    first = facts.source.jobs([chain[0].job], context=True).get(chain[0].job) if chain else None
    commit = ((first.context.get("git") or {}).get("commit") if first else None) or "-"
    lines = [
        "",
        f"Session: {head}",
        f"Created: {when(chain[0].time_ns)}" if chain else "Created: -",
        f"Commit: {commit}",
        "",
        f"Jobs ({len(chain)}):",
        "",
        "STEP    JOB UID   STATUS  COMMAND",
        "-" * 60,
    ]
    for s in chain:
        j = jobs[s.job]
        status = status_word(j.exit_code, j.interrupted)  # as `roar log` prints it
        command = " ".join(os.fsdecode(a) for a in j.argv)
        lines.append(printable(f"{s.label:<8}{s.job[:8]}  {status:<8}{command}"))
    return lines
