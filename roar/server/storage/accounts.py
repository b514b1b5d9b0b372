"""Accounts, their keys, projects and members; and the signature nonces seen.

An account's name is its id and is never reused: deleting an account keeps
its row (`deleted_ns`), drops its keys, memberships and browser logins, so
nobody who signs up later inherits its namespaces, projects or cookies.
"""

from __future__ import annotations

import time

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from roar.server import schema as t
from roar.server.errors import Conflict
from roar.server.scope import Caller
from roar.server.storage.database import Database, insert_ignore
from roar.server.storage.records import AccountInfo, ProjectInfo

NONCE_WINDOW_S = 600  # twice the signature freshness window (docs/protocol.md §2)

_live = t.accounts.c.deleted_ns.is_(None)


class Accounts:
    def __init__(self, db: Database):
        self.db = db

    # -- who is calling ---------------------------------------------------

    def caller(self, fingerprint: str, scope: str) -> Caller:
        """The caller a verified key acts as in `scope` (anonymous: nobody, by design)."""
        with self.db.read() as conn:
            account = conn.execute(
                select(t.keys.c.account).where(t.keys.c.fingerprint == fingerprint)
            ).scalar()
            if account is None or scope == "anonymous":
                # Logged out (scope anonymous) acts as nobody, even with an account.
                return Caller(None, fingerprint, scope=scope)
            return Caller(account, fingerprint, self._memberships(conn, account), scope)

    def account_caller(self, account: str) -> Caller:
        """The reader a browser login acts as: the account and its projects."""
        with self.db.read() as conn:
            return Caller(account, None, self._memberships(conn, account))

    def _memberships(self, conn, account: str) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
        rows = conn.execute(
            select(t.members.c.owner, t.members.c.project).where(t.members.c.account == account)
        ).all()
        return tuple(f"{o}/{p}" for o, p in rows)

    def use_nonce(self, fingerprint: str, nonce: str, created: int) -> bool:
        """Record a signature's nonce; False if it was seen before (a replay)."""
        now = int(time.time())
        with self.db.write() as conn:
            conn.execute(delete(t.nonces).where(t.nonces.c.created < now - NONCE_WINDOW_S))
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(t.nonces).values(
                            fingerprint=fingerprint, nonce=nonce, created=created
                        )
                    )
            except IntegrityError:
                return False
        return True

    # -- accounts and keys ------------------------------------------------

    def create(self, name: str, public_key: str, fingerprint: str) -> None:
        """Sign up `name` with its first key; Conflict when the name or the key is taken."""
        now = time.time_ns()
        with self.db.write() as conn:
            row = conn.execute(
                select(t.accounts.c.deleted_ns).where(t.accounts.c.name == name)
            ).first()
            if row is not None:
                why = " by a deleted account (names are never reused)" if row[0] else ""
                raise Conflict(f"account name {name} is taken{why}")
            self._check_key_free(conn, fingerprint)
            conn.execute(insert(t.accounts).values(name=name, created_ns=now))
            self._insert_key(conn, name, public_key, fingerprint, now)

    def add_key(self, account: str, public_key: str, fingerprint: str) -> None:
        with self.db.write() as conn:
            self._check_key_free(conn, fingerprint)
            self._insert_key(conn, account, public_key, fingerprint, time.time_ns())

    def _check_key_free(self, conn, fingerprint: str) -> None:  # type: ignore[no-untyped-def]
        owner = conn.execute(
            select(t.keys.c.account).where(t.keys.c.fingerprint == fingerprint)
        ).scalar()
        if owner is not None:
            raise Conflict(f"key {fingerprint} already belongs to account {owner}")

    def _insert_key(self, conn, account: str, public_key: str, fingerprint: str, now: int) -> None:  # type: ignore[no-untyped-def]
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(t.keys).values(
                        fingerprint=fingerprint,
                        account=account,
                        public_key=public_key,
                        created_ns=now,
                    )
                )
        except IntegrityError:
            # Another request registered the same key in between.
            raise Conflict(f"key {fingerprint} already belongs to an account") from None

    def exists(self, name: str) -> bool:
        """Whether `name` is a live account (a deleted one is not)."""
        with self.db.read() as conn:
            q = select(t.accounts.c.name).where(t.accounts.c.name == name, _live)
            return conn.execute(q).first() is not None

    def all(self) -> list[AccountInfo]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    t.accounts.c.name,
                    func.count(t.keys.c.fingerprint),
                    t.accounts.c.deleted_ns,
                )
                .select_from(t.accounts.outerjoin(t.keys, t.keys.c.account == t.accounts.c.name))
                .group_by(t.accounts.c.name, t.accounts.c.deleted_ns)
                .order_by(t.accounts.c.name)
            ).all()
        return [AccountInfo(name, keys, deleted is not None) for name, keys, deleted in rows]

    def delete(self, name: str) -> bool:
        """Delete a live account: its keys, memberships and browser logins go, its name stays."""
        with self.db.write() as conn:
            gone = conn.execute(
                update(t.accounts)
                .where(t.accounts.c.name == name, _live)
                .values(deleted_ns=time.time_ns())
            ).rowcount
            if not gone:
                return False
            conn.execute(delete(t.keys).where(t.keys.c.account == name))
            conn.execute(delete(t.members).where(t.members.c.account == name))
            conn.execute(delete(t.web_logins).where(t.web_logins.c.account == name))
            return True

    # -- projects ---------------------------------------------------------

    def create_project(self, owner: str, name: str) -> None:
        with self.db.write() as conn:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(t.projects).values(owner=owner, name=name, created_ns=time.time_ns())
                    )
            except IntegrityError:
                raise Conflict(f"project {owner}/{name} exists") from None
            conn.execute(insert(t.members).values(owner=owner, project=name, account=owner))

    def project_exists(self, owner: str, name: str) -> bool:
        with self.db.read() as conn:
            q = select(t.projects.c.name).where(
                t.projects.c.owner == owner, t.projects.c.name == name
            )
            return conn.execute(q).first() is not None

    def add_member(self, owner: str, project: str, account: str) -> None:
        with self.db.write() as conn:
            insert_ignore(
                conn, t.members, [{"owner": owner, "project": project, "account": account}]
            )

    def projects(self, account: str | None = None) -> list[ProjectInfo]:
        """Projects and their members: every one, or only those `account` is a member of."""
        m = t.members
        q = select(m.c.owner, m.c.project, m.c.account)
        if account is not None:
            mine = m.alias("mine")
            q = q.join(
                mine,
                and_(mine.c.owner == m.c.owner, mine.c.project == m.c.project),
            ).where(mine.c.account == account)
        with self.db.read() as conn:
            rows = conn.execute(q.order_by(m.c.owner, m.c.project)).all()
        grouped: dict[str, list[str]] = {}
        for owner, project, member in rows:
            grouped.setdefault(f"{owner}/{project}", []).append(member)
        return [ProjectInfo(p, sorted(members)) for p, members in grouped.items()]
