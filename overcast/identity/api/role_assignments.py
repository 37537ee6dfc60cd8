"""`GET /v3/role_assignments`: filters `user.id`, `group.id`, `role.id`, `scope.project.id`,
`scope.domain.id`, `scope.system`, `scope.OS-INHERIT:inherited_to`; flags `effective`,
`include_names`, `include_subtree`. A user may list their own (`?user.id=<self>`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common.context import RequestContext
from overcast.common.http import auth
from overcast.identity import assignment_list, models, state
from overcast.identity.api import links, listing
from overcast.identity.effective import Entry

router = APIRouter(prefix="/v3")


def _query(request: Request) -> assignment_list.Query:
    p = request.query_params
    return assignment_list.Query(
        user_id=p.get("user.id") or None,
        group_id=p.get("group.id") or None,
        role_id=p.get("role.id") or None,
        project_id=p.get("scope.project.id") or None,
        domain_id=p.get("scope.domain.id") or None,
        system=p.get("scope.system") or None,
        inherited_to=p.get("scope.OS-INHERIT:inherited_to") or None,
        effective=listing.flag(p.get("effective")),
        include_subtree=listing.flag(p.get("include_subtree")),
    )


class Names:
    """Every name an include_names listing shows, fetched in one query per kind."""

    def __init__(self) -> None:
        self.rows: dict[str, Any] = {}

    async def load(self, session: AsyncSession, entries: list[Entry]) -> None:
        wanted: dict[Any, set[str]] = {
            models.User: {e.user_id for e in entries if e.user_id},
            models.Group: {e.group_id for e in entries if e.group_id},
            models.Role: {e.role_id for e in entries},
            models.Project: {e.scope_id for e in entries if e.scope == "project"},
            models.Domain: {e.scope_id for e in entries if e.scope == "domain"},
        }
        for model, ids in wanted.items():
            if ids:
                rows = await session.execute(select(model).where(model.id.in_(ids)))
                self.rows.update({r.id: r for r in rows.scalars()})
        domain_ids = {getattr(r, "domain_id", "") for r in self.rows.values()} - {"", None}
        domain_ids -= set(self.rows)
        if domain_ids:
            rows = await session.execute(
                select(models.Domain).where(models.Domain.id.in_(domain_ids))
            )
            self.rows.update({r.id: r for r in rows.scalars()})

    def ref(self, row_id: str, with_domain: bool = True) -> dict[str, Any]:
        row = self.rows.get(row_id)
        if row is None:
            return {"id": row_id}
        out: dict[str, Any] = {"id": row_id, "name": row.name}
        domain_id = getattr(row, "domain_id", None)
        if with_domain and domain_id:
            domain = self.rows.get(domain_id)
            out["domain"] = {"id": domain_id, "name": domain.name if domain else None}
        return out


def _render(v3: str, e: Entry, names: Names | None) -> dict[str, Any]:
    def ref(row_id: str) -> dict[str, Any]:
        return names.ref(row_id) if names else {"id": row_id}

    item: dict[str, Any] = {"role": ref(e.role_id)}
    if e.user_id:
        item["user"] = ref(e.user_id)
    if e.group_id:
        item["group"] = ref(e.group_id)
    if e.scope == "system":
        item["scope"] = {"system": {"all": True}}
    else:
        item["scope"] = {e.scope: ref(e.scope_id)}
    if e.inherited:
        item["scope"]["OS-INHERIT:inherited_to"] = "projects"
    links_: dict[str, str] = {"assignment": f"{v3}/{e.assignment}"}
    if e.membership:
        links_["membership"] = f"{v3}/groups/{e.membership[0]}/users/{e.membership[1]}"
    if e.prior_role_id:
        links_["prior_role"] = f"{v3}/roles/{e.prior_role_id}"
    item["links"] = links_
    return item


@router.get("/role_assignments")
async def index(request: Request, ctx: RequestContext = Depends(auth.context)) -> Any:
    ident = state.get(request)
    query = _query(request)
    target: dict[str, Any] = {"target": {"user": {"id": query.user_id}}} if query.user_id else {}
    ident.enforce("identity:list_role_assignments", ctx, target)
    names = Names() if listing.flag(request.query_params.get("include_names")) else None
    async with ident.db.reader() as session:
        entries = await assignment_list.listing(session, query)
        if names is not None:
            await names.load(session, entries)
    v3 = links.v3(request)
    return {
        "role_assignments": [_render(v3, e, names) for e in entries],
        "links": links.collection(request),
    }
