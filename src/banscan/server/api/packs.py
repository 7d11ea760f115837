"""The packs of the server's catalog (one ban each) and what the estate holds of each."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from banscan.server.deps import ReadDB, UserDep, state_of
from banscan.store.deadlines import finding_groups
from banscan.store.packs import packs_json

router = APIRouter(tags=["read"])


class PackInfo(BaseModel):
    id: str = Field(description="The pack's id: the `pack=` filter of hosts, findings and the summary.")
    title: str
    version: str = Field(description="The pack's own version (the catalog has one of its own).")
    released: str
    jurisdictions: list[str] = Field(description="Where its rules apply: US, US-TX …")
    regulations: list[str] = Field(description="The ids of its regulations.")
    products: int = Field(description="How many products the catalog lists in it.")
    hosts: int = Field(description="Hosts with a present finding of one of its products.")
    hosts_with_covered: int = Field(
        description="Hosts with a present covered finding of one of its products."
    )
    findings: int = Field(description="Present findings of its products.")
    findings_by_verdict: dict[str, int] = Field(description="The same, by verdict.")


@router.get("/packs", response_model=list[PackInfo])
def list_packs(request: Request, principal: UserDep, db: ReadDB) -> list[dict[str, Any]]:
    """The packs of the server's catalog, in its order, each with its regulations and what the
    caller's organisation holds of it: a finding belongs to the pack of its product in the
    server's catalog (an unlisted product of a covered entity to its entity's)."""
    own = principal.scope.own_only()  # counts: the caller's own organisation's, as the summary
    return packs_json(db, state_of(request).catalog, finding_groups(db, orgs=own), orgs=own)
