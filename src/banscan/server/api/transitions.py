"""Recording the steps of a removal (admins)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field, field_validator

from banscan.server.api.common import RowId
from banscan.server.deps import AdminDep, WriteDB, client_addr
from banscan.store.accounts import audit
from banscan.store.ingest import set_transition

router = APIRouter(tags=["admin"])


class TransitionRequest(BaseModel):
    state: Literal["found", "replacement-installed", "removed"] = Field(
        description="`verified` is set only by a clean re-scan after `removed`."
    )
    note: str = Field(default="", max_length=4000)

    @field_validator("note")
    @classmethod
    def _note(cls, v: str) -> str:
        if "\x00" in v:
            raise ValueError("must not contain NUL")
        return v


@router.post("/transitions/{host_id}/{product}")
def post_transition(
    host_id: RowId,
    product: Annotated[str, Path(max_length=200)],
    body: TransitionRequest,
    request: Request,
    principal: AdminDep,
    db: WriteDB,
) -> dict[str, Any]:
    """Record the next step in removing `product` from a host (admin)."""
    t = set_transition(db, host_id, product, body.state, body.note, principal.name)
    if t is None:
        raise HTTPException(404, "no such finding on this host")
    audit(db, principal.name, "transition", f"{host_id}/{product}", client_addr(request), state=body.state)
    db.commit()
    return {
        "host_id": host_id,
        "product": product,
        "state": t.state,
        "flag": t.flag,
        "updated_by": t.updated_by,
    }
