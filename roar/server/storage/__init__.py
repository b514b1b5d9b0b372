"""Every SQL statement of the registry, over SQLAlchemy Core, split by what it serves.

`Storage` holds one `Database` and a reader or writer per seam:

| attribute   | module         | what                                                          |
|-------------|----------------|---------------------------------------------------------------|
| `accounts`  | accounts.py    | accounts, keys, projects, members, signature nonces           |
| `push`      | push.py        | negotiation, storing and indexing a checked pack, ref moves   |
| `closure`   | closure.py     | fetch: the lineage closure of a hash and its frames           |
| `source()`  | lineage.py     | the lineage core's `LineageSource` for one caller             |
| `lookup`    | lookup.py      | lookup of a hash, search of jobs                              |
| `web`       | web.py         | hash prefixes, recent sessions, browser logins                |

Reads return the frozen dataclasses of records.py. A push is one
transaction: objects, index rows and the ref compare-and-swap commit
together or not at all.
"""

from __future__ import annotations

from sqlalchemy import func, select

from roar.server import schema as t
from roar.server.limits import Limits
from roar.server.scope import Caller
from roar.server.storage.accounts import Accounts
from roar.server.storage.closure import Closures
from roar.server.storage.database import Database
from roar.server.storage.lineage import RegistrySource
from roar.server.storage.lookup import Lookups
from roar.server.storage.push import Pushes
from roar.server.storage.web import WebReads


class Storage:
    def __init__(self, url: str, limits: Limits | None = None):
        self.limits = limits or Limits()
        self.db = Database(url)
        self.accounts = Accounts(self.db)
        self.push = Pushes(self.db, self.limits)
        self.closure = Closures(self.db)
        self.lookup = Lookups(self.db)
        self.web = WebReads(self.db)

    def source(self, caller: Caller) -> RegistrySource:
        """What the lineage rules read, as `caller` may see it; one per request."""
        return RegistrySource(self.db, self.limits, caller)

    @property
    def url(self) -> str:
        return self.db.url

    def close(self) -> None:
        self.db.close()

    def stats(self) -> dict[str, int]:
        """Row counts of the main tables (`glaas-server admin stats`)."""
        tables = ("objects", "object_ns", "artifacts", "artifact_jobs", "jobs", "sessions",
                  "labels", "refs", "tree_entries", "accounts", "projects")  # fmt: skip
        with self.db.read() as conn:
            return {
                name: conn.execute(
                    select(func.count()).select_from(t.metadata.tables[name])
                ).scalar()
                or 0
                for name in tables
            }


__all__ = ["Storage"]
