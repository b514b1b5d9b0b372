"""The CLI frame as a user meets it: init, config, cat-object, fsck, gc."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from roar import __version__


def test_version(roar_cli) -> None:  # type: ignore[no-untyped-def]
    result = roar_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"roar {__version__}\n"


def test_init_creates_the_layout_and_commented_config(roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = roar_cli("init", "-n")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".roar/HEAD").read_text() == "ref: refs/sessions/main\n"
    config = (tmp_path / ".roar/config.toml").read_text()
    # Every option documented at its default, commented out: the user's settings apply.
    assert "# Ignore /tmp files\n# ignore_tmp_files = true" in config
    assert '# url = "https://api.glaas.ai"' in config
    again = roar_cli("init", "-n", "--json")
    assert json.loads(again.stdout)["created"] is False


def test_init_gitignore_handling(roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert roar_cli("init", "-n").returncode == 0
    assert not (tmp_path / ".gitignore").exists()
    (tmp_path / ".gitignore").write_text("*.pyc")
    assert roar_cli("init", "-y").returncode == 0
    assert (tmp_path / ".gitignore").read_text() == "*.pyc\n.roar/\n"
    assert roar_cli("init", "-y").returncode == 0
    assert (tmp_path / ".gitignore").read_text().count(".roar/") == 1


def test_init_in_a_script_ignores_roar_dir_as_roar_cli_does(roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, plain = tmp_path / "repo", tmp_path / "plain"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    made = roar_cli("init", cwd=repo)  # no terminal, no flag: still added, as roar-cli does
    assert made.returncode == 0 and "created .gitignore with .roar/ entry" in made.stdout
    assert (repo / ".gitignore").read_text() == ".roar/\n"
    plain.mkdir()
    elsewhere = roar_cli("init", "--path", str(repo / "sub"), cwd=plain)
    assert elsewhere.returncode == 0 and (repo / "sub/.roar/HEAD").is_file()
    assert roar_cli("init", "--no-gitignore", cwd=plain).returncode == 0
    assert not (plain / ".gitignore").exists()


def test_config_set_get_list_keeps_comments(roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    assert roar_cli("config", "set", "run.require_clean", "true").returncode == 0
    assert roar_cli("config", "get", "run.require_clean").stdout == "true\n"
    listed = json.loads(roar_cli("config", "list", "--json").stdout)
    assert {"key": "run.require_clean", "value": True} == {
        k: v
        for k, v in next(o for o in listed if o["key"] == "run.require_clean").items()
        if k in ("key", "value")
    }
    assert (
        "# Refuse to run when the git work tree is dirty"
        in (tmp_path / ".roar/config.toml").read_text()
    )
    bad = roar_cli("config", "set", "run.require_clean", "maybe")
    assert bad.returncode == 2 and bad.stderr.startswith(
        "error: run.require_clean takes true or false"
    )
    unknown = roar_cli("config", "get", "no.such.key")
    assert unknown.returncode == 2 and "unknown config key" in unknown.stderr


def test_commands_outside_a_workspace_say_what_to_do(roar_cli) -> None:  # type: ignore[no-untyped-def]
    result = roar_cli("fsck")
    assert result.returncode == 3
    assert (
        result.stderr == "error: not a roar workspace (no .roar/ here or above); run `roar init`\n"
    )


def test_cat_object_fsck_and_gc(roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from roar.objects.blob import Blob
    from roar.objects.tree import Tree, TreeEntry
    from roar.workspace import Workspace

    roar_cli("init", "-n")
    ws = Workspace(tmp_path)
    digest = "ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f"
    tree = ws.objects.write(Tree.of([TreeEntry(b"x.csv", digest, 5)]))
    blob = ws.objects.write(Blob(b"patch text\n"))

    shown = json.loads(roar_cli("cat-object", tree[:10]).stdout)
    assert shown == {"id": tree, "kind": "tree", "body": {"entries": [["x.csv", digest, 5]]}}
    assert roar_cli("cat-object", "-t", tree).stdout == "tree\n"
    assert roar_cli("cat-object", blob).stdout == "patch text\n"
    assert roar_cli("cat-object", "beef").returncode == 4

    assert roar_cli("fsck").returncode == 0
    gc = json.loads(roar_cli("gc", "--json").stdout)
    assert gc["packed"] == 2 and gc["loose_removed"] == 2
    assert roar_cli("cat-object", "-t", tree).stdout == "tree\n"

    (pack,) = (tmp_path / ".roar/objects/pack").glob("*.pack")
    data = bytearray(pack.read_bytes())
    data[-40] ^= 0xFF
    pack.write_bytes(bytes(data))
    damaged = roar_cli("fsck")
    assert damaged.returncode == 1
    assert f"error: pack {pack.name}: pack trailer does not match" in damaged.stderr
