"""Fixtures for reproduce tests: a git project whose remote is a local bare
repository, and a SQLite glaas-server on 127.0.0.1 (started as the server
tests start theirs)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from roar.server.launch import start_server, stop

AUTHOR = b"Ada <ada@example.com>"


@dataclass
class GitProject:
    root: Path  # the work tree, also the roar workspace
    origin: Path  # the bare repository it pushes to

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        from dulwich import porcelain

        for name, text in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        porcelain.add(str(self.root), [str(self.root / n) for n in files])
        sha = porcelain.commit(str(self.root), message=message.encode(), author=AUTHOR,
                               committer=AUTHOR)  # fmt: skip
        porcelain.push(str(self.root), str(self.origin), b"master", errstream=io.BytesIO())
        return sha.decode()


@pytest.fixture
def git_project(tmp_path: Path) -> GitProject:
    """An empty repository in tmp_path/project with a bare `origin` beside it."""
    from dulwich import porcelain

    root, origin = tmp_path / "project", tmp_path / "origin.git"
    root.mkdir()
    porcelain.init(str(root))
    porcelain.init(str(origin), bare=True)
    with porcelain.open_repo_closing(str(root)) as repo:
        config = repo.get_config()
        config.set((b"remote", b"origin"), b"url", str(origin).encode())
        config.write_to_path()
    project = GitProject(root, origin)
    project.commit({".gitignore": ".roar/\ndata/\n"}, "ignore data and roar")
    return project


@pytest.fixture(scope="module")
def glaas_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("glaas")
    url, proc = start_server(f"sqlite:///{tmp / 'glaas.sqlite3'}", tmp / "server.log")
    yield url
    stop([proc])
