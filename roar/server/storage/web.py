"""What only the web pages need: recent sessions, browser logins."""

from __future__ import annotations

import time

from sqlalchemy import and_, delete, insert, select

from roar.server import schema as t
from roar.server.scope import Caller, shown_ref_namespace
from roar.server.storage.database import Database, visible
from roar.server.storage.records import SessionHead


class WebReads:
    def __init__(self, db: Database):
        self.db = db

    def recent_sessions(self, caller: Caller, limit: int = 20) -> list[SessionHead]:
        """Heads of the visible session refs, newest step first."""
        r, s = t.refs, t.sessions
        q = (
            select(r.c.target, r.c.name, r.c.ref_ns, r.c.public, s.c.step, s.c.time_ns, s.c.job_id)
            .join(s, and_(s.c.session_id == r.c.target, s.c.ns == r.c.ns))
            .where(visible(r, caller))
            .order_by(s.c.time_ns.desc())
            .limit(limit)
        )
        with self.db.read() as conn:
            rows = conn.execute(q).all()
        return [
            SessionHead(target, name, shown_ref_namespace(ref_ns), bool(public), step, when, job)
            for target, name, ref_ns, public, step, when, job in rows
        ]

    # -- browser logins (docs/protocol.md §8) ----------------------------------

    def add_login(self, digest: str, kind: str, account: str, expires_ns: int) -> None:
        now = time.time_ns()
        with self.db.write() as conn:
            conn.execute(delete(t.web_logins).where(t.web_logins.c.expires_ns < now))
            conn.execute(
                insert(t.web_logins).values(
                    digest=digest, kind=kind, account=account, expires_ns=expires_ns
                )
            )

    def login(self, digest: str, kind: str, *, consume: bool = False) -> str | None:
        """The live account of an unexpired link or cookie; a consumed link works once."""
        wl, a = t.web_logins, t.accounts
        key = and_(
            wl.c.digest == digest,
            wl.c.kind == kind,
            wl.c.expires_ns > time.time_ns(),
            wl.c.account.in_(select(a.c.name).where(a.c.deleted_ns.is_(None))),
        )
        if not consume:
            with self.db.read() as conn:
                return conn.execute(select(wl.c.account).where(key)).scalar()  # type: ignore[no-any-return]
        # One DELETE ... RETURNING: of two concurrent redeemers, only one gets a row.
        with self.db.write() as conn:
            return conn.execute(delete(wl).where(key).returning(wl.c.account)).scalar()  # type: ignore[no-any-return]

    def drop_login(self, digest: str) -> None:
        with self.db.write() as conn:
            conn.execute(delete(t.web_logins).where(t.web_logins.c.digest == digest))
