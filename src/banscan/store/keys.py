"""Keys the server makes for itself (HMAC keys of acknowledgement and invitation links), kept in
`server_keys` so that nothing has to be configured and every server process signs alike.

Whoever can read the database could forge such links, but could also change the rows the links
are about; the keys protect the links in transit and from guessing, not from the database."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from banscan.store.models import ServerKey

KEY_BYTES = 32


def existing_key(session: Session, name: str) -> bytes | None:
    """The key called `name`, if one was made (checking a link needs no new key: without one,
    no link was ever issued)."""
    found = session.scalar(select(ServerKey.value).where(ServerKey.name == name))
    return bytes.fromhex(found) if found is not None else None


def server_key(session: Session, name: str) -> bytes:
    """The key called `name`, made (32 random bytes) the first time it is asked for, in the
    caller's transaction (which commits it with what it signed). Two processes asking at once
    both get the one that was stored first."""
    found = existing_key(session, name)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(ServerKey(name=name, value=secrets.token_hex(KEY_BYTES)))
            session.flush()
    except IntegrityError:  # made meanwhile by another process
        pass
    value = session.scalar(select(ServerKey.value).where(ServerKey.name == name))
    assert value is not None
    return bytes.fromhex(value)
