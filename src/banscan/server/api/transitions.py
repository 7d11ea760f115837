"""Recording the steps of a removal (admins): one product's next step, or the same step with one
note for several products of a host at once."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from banscan.server.actions import record_removal_steps
from banscan.server.api.common import RowId
from banscan.server.deps import AdminDep, WriteDB, client_addr, writable_host
from banscan.store.audit import audit
from banscan.store.board import MAX_BULK
from banscan.store.ingest import set_transition
from banscan.store.models import Transition

router = APIRouter(tags=["admin"])


def _no_nul(v: str) -> str:
    if "\x00" in v:
        raise ValueError("must not contain NUL")
    return v


class TransitionRequest(BaseModel):
    state: Literal["found", "replacement-installed", "removed"] = Field(
        description="`verified` is set only by a clean re-scan after `removed`."
    )
    note: str = Field(default="", max_length=4000)

    _note = field_validator("note")(_no_nul)


class BulkTransitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    products: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1,
        max_length=MAX_BULK,
        description="Catalog ids of the products (findings of this host with a removal record).",
    )
    state: Literal["replacement-installed", "removed"] = Field(
        description="Forward only: an item already in this state or past it refuses the whole "
        "request (a removal a new agent's clean scan could not verify may be recorded again)."
    )
    note: str = Field(default="", max_length=4000, description="One note, recorded with every step.")

    _note = field_validator("note")(_no_nul)

    @field_validator("products")
    @classmethod
    def _products(cls, v: list[str]) -> list[str]:
        return [_no_nul(p) for p in v]


def _item(t: Transition) -> dict[str, Any]:
    return {
        "host_id": t.host_id,
        "product": t.product,
        "state": t.state,
        "flag": t.flag,
        "updated_at": t.updated_at.isoformat(),
        "updated_by": t.updated_by,
    }


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
    writable_host(db, principal, host_id)
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


@router.post("/hosts/{host_id}/transitions")
def post_host_transitions(
    host_id: RowId, body: BulkTransitionRequest, request: Request, principal: AdminDep, db: WriteDB
) -> dict[str, Any]:
    """Record the same step, with one note, for several products of a host (admin): all or
    nothing. 404 when the host or a product's removal record is not there, 409 naming each
    refused step (steps go forward only; correct one product with
    `POST /transitions/{host_id}/{product}`); nothing is recorded unless every step can be.
    Each step is kept in the product's history and audited as a single step is."""
    moved = record_removal_steps(request, principal, db, host_id, body.products, body.state, body.note)
    return {"host_id": host_id, "state": body.state, "count": len(moved), "items": [_item(t) for t in moved]}
