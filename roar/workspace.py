"""A workspace: the `.roar/` directory and the stores inside it.

Everything above the plumbing reaches objects, refs and config through
here, so there is one place that knows the layout.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from roar.errors import LegacyWorkspace, NotAWorkspace

if TYPE_CHECKING:
    from roar.config import Config
    from roar.objects.store import ObjectStore
    from roar.refs.refstore import RefStore

ROAR_DIR = ".roar"
DEFAULT_SESSION = "refs/sessions/main"


class Workspace:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.dir = self.root / ROAR_DIR

    @classmethod
    def find(cls, start: Path | None = None) -> Workspace:
        """The workspace containing `start` (default: cwd), or $ROAR_DIR's."""
        env = os.environ.get("ROAR_WORKSPACE")
        if env:
            ws = cls(Path(env))
            if ws.dir.is_dir():
                return ws._logging()
            raise NotAWorkspace(f"ROAR_WORKSPACE={env} has no {ROAR_DIR}/ directory")
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if (candidate / ROAR_DIR / "HEAD").is_file():
                return cls(candidate)._logging()
            if (candidate / ROAR_DIR / "roar.db").is_file():
                raise LegacyWorkspace(
                    f"{candidate / ROAR_DIR} is a roar-cli workspace: `roar import` brings its "
                    "history into roar (the old database is kept)",
                    candidate,
                )
        raise NotAWorkspace("not a roar workspace (no .roar/ here or above); run `roar init`")

    def _logging(self) -> Workspace:
        from roar.log import configure

        configure(self.config.get("logging.level"))
        return self

    @classmethod
    def create(cls, root: Path) -> tuple[Workspace, bool]:
        """Create the layout (idempotent); returns (workspace, created)."""
        from roar.atomic import write_atomic
        from roar.config import default_toml

        ws = cls(root)
        created = not (ws.dir / "HEAD").exists()
        for sub in ("objects", "refs/sessions", "refs/labels", "refs/remotes", "logs", "cache"):
            (ws.dir / sub).mkdir(parents=True, exist_ok=True)
        if not ws.config_path.exists():
            write_atomic(ws.config_path, default_toml().encode())
        if created:
            write_atomic(ws.dir / "HEAD", f"ref: {DEFAULT_SESSION}\n".encode())
            _ = ws.id  # made with the workspace, so a copy of it keeps the id
        return ws, created

    @cached_property
    def id(self) -> str:
        """This workspace's id: 32 random hex digits in `.roar/id`, made on first use.

        It tells one workspace's sessions from another's on a registry
        (roar.sessions.remote_name); a copy of `.roar/` keeps it.
        """
        import secrets
        import tempfile

        path = self.dir / "id"
        for _ in range(2):
            try:
                text = path.read_text().strip()
            except FileNotFoundError:
                text = ""
            if len(text) == 32 and all(c in "0123456789abcdef" for c in text):
                return text
            # Made whole beside it, then linked into place: of two first uses at
            # once, one id wins and both read it (a damaged file is replaced).
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".id-")
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(16) + "\n")
            try:
                if text:
                    os.replace(tmp, path)
                else:
                    os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        raise OSError(f"cannot make the workspace id {path}")

    def edit_config(self, change) -> None:  # type: ignore[no-untyped-def]
        """Apply `change` to the parsed `.roar/config.toml` (tomlkit: comments kept),
        written atomically; tables `roar config` does not set go through here."""
        import tomlkit

        from roar.atomic import write_atomic

        try:
            doc = tomlkit.parse(self.config_path.read_text())
        except FileNotFoundError:
            doc = tomlkit.document()
        change(doc)
        write_atomic(self.config_path, tomlkit.dumps(doc).encode())
        self.config._data = None

    @property
    def config_path(self) -> Path:
        return self.dir / "config.toml"

    @cached_property
    def config(self) -> Config:
        from roar.config import Config

        return Config(self.config_path, fallback=Config.user())

    @cached_property
    def objects(self) -> ObjectStore:
        from roar.objects.store import ObjectStore

        return ObjectStore(self.dir / "objects", fsync=bool(self.config.get("store.fsync")))

    @cached_property
    def refs(self) -> RefStore:
        from roar.refs.refstore import RefStore

        return RefStore(self.dir, fsync=bool(self.config.get("store.fsync")))
