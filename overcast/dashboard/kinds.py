"""The shape most pages share, declared once: a `Kind` of resource is listed (one API call),
created from a form, shown, deleted, and acted on with `Action` forms; its children (a
network's subnets and ports) are listed on its page. `routes_for` makes a kind's routes.
Declarations live in `pages/project_kinds.py` and `pages/admin_kinds.py`; resources with more
to them (images, objects, instances) have their own page modules.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from overcast.common import errors
from overcast.dashboard import paging, web
from overcast.dashboard.cloud import Get
from overcast.dashboard.pages import timeline
from overcast.dashboard.paging import Paging

Values = dict[str, Any]
_REFUSED = (
    errors.BadRequest,
    errors.Conflict,
    errors.Forbidden,
    errors.NotFound,
    errors.OverQuota,
    errors.NotSupported,
)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text, number, checkbox, select, textarea, password
    options: tuple[str, ...] = ()  # a select's fixed options
    choices: str = ""  # a select filled with the items of this kind (by slug)
    required: bool = False


@dataclass(frozen=True)
class Action:
    """A form on an item's page: `call(page, item_id, values)` makes the API request."""

    name: str
    label: str
    fields: tuple[Field, ...]
    call: Callable[[web.Page, str, Values], Any]
    danger: bool = False


@dataclass(frozen=True)
class Kind:
    slug: str  # /<section>/<slug>
    title: str
    service: str  # catalog type
    path: str  # the collection's path, e.g. /v2.0/networks
    plural: str  # the list body's key
    singular: str  # the item body's key
    columns: tuple[tuple[str, str], ...]  # (heading, dotted key)
    fields: tuple[Field, ...] = ()  # the create form; none: no create
    section: str = "project"
    label: str = "name"
    params: Callable[[web.Page], Values] = lambda _p: {}
    keep: Callable[[web.Page, Values], bool] = lambda _p, _item: True
    body: Callable[[web.Page, Values], Any] | None = None  # the create body; default below
    list_path: str = ""  # when the list is read elsewhere (e.g. /volumes/detail)
    id_key: str = "id"
    deletable: bool = True
    actions: tuple[Action, ...] = ()
    children: tuple[tuple[str, str], ...] = ()  # (kind slug, filter naming this item's id)
    unwrap: Callable[[Any], Values] = lambda item: item  # e.g. os-keypairs' {"keypair": ...}
    list_only: bool = False  # the API has no GET of one item: it is found in the list
    paging: Paging | None = None  # how its list pages (None: the API lists everything)
    traced: bool = False  # the API has the item's trace (`{path}/{id}/trace`)

    @property
    def base(self) -> str:
        return f"/{self.section}/{self.slug}"


KINDS: dict[str, Kind] = {}


def cell(item: Values, key: str) -> str:
    value: Any = item
    for part in key.split("."):
        if isinstance(value, list):
            value = [v.get(part) for v in value if isinstance(v, dict)]
        else:
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, list):
        return ", ".join(
            str(v.get("ip_address") or v.get("name") or v.get("id") or v)
            if isinstance(v, dict)
            else str(v)
            for v in value
        )
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else str(value)


def list_get(p: web.Page, kind: Kind, optional: bool = False, **extra: Any) -> Get:
    return Get(
        kind.service, kind.list_path or kind.path, {**kind.params(p), **extra}, optional=optional
    )


def kept(p: web.Page, kind: Kind, body: Any) -> list[Values]:
    """The items of a list body the page shows (none when an optional list was refused)."""
    if body is None:
        return []
    return [kind.unwrap(i) for i in body[kind.plural] if kind.keep(p, kind.unwrap(i))]


def option_gets(p: web.Page, fields: tuple[Field, ...]) -> tuple[list[str], list[Get]]:
    """The kinds whose items fill the form's selects, and the list GETs that read them."""
    wanted = sorted({f.choices for f in fields if f.choices})
    return wanted, [list_get(p, KINDS[slug], optional=True) for slug in wanted]


def options_of(
    p: web.Page, wanted: list[str], bodies: list[Any]
) -> dict[str, list[tuple[str, str]]]:
    """Each select's (value, label) options, from the bodies `option_gets` read."""
    found = {}
    for slug, body in zip(wanted, bodies, strict=True):
        other = KINDS[slug]
        found[slug] = [
            (str(i[other.id_key]), cell(i, other.label) or str(i[other.id_key]))
            for i in kept(p, other, body)
        ]
    return found


def values(p: web.Page, fields: tuple[Field, ...]) -> Values:
    """The form's values by field, typed as the API wants them; blanks left out."""
    found: Values = {}
    for f in fields:
        if f.kind == "checkbox":
            found[f.name] = p.field(f.name) == "on"
            continue
        raw = p.field(f.name)
        if raw == "":
            continue
        numeric = f.kind == "number" or (f.kind == "select" and f.options and raw.isdigit())
        found[f.name] = int(raw) if numeric and raw.lstrip("-").isdigit() else raw
    return found


def problems_for(exc: errors.OvercastError, fields: tuple[Field, ...]) -> dict[str, str]:
    """The API's message, next to the field it names (and at the top of the form)."""
    said = web.message(exc)
    lowered = said.lower()
    found = {"form": said}
    for f in fields:
        if f.name.lower() in lowered or f.label.lower() in lowered:
            found[f.name] = said
            break
    return found


def _list_page(kind: Kind) -> web.Handler:
    async def show(
        p: web.Page,
        status: int = 200,
        problems: dict[str, str] | None = None,
        form: Values | None = None,
    ) -> Response:
        window = paging.window(p.request)
        extra = window.params(kind.paging) if kind.paging else {}
        wanted, gets = option_gets(p, kind.fields)
        body, *bodies = await p.cloud.batch(list_get(p, kind, **extra), *gets)
        rows = body[kind.plural]
        if kind.paging:
            rows = window.cut(rows, kind.paging, lambda i: str(kind.unwrap(i)[kind.id_key]))
        return p.render(
            "kind_list.html",
            status,
            kind=kind,
            items=kept(p, kind, {kind.plural: rows}),
            links=window.links({}) if kind.paging else [],
            cell=cell,
            options=options_of(p, wanted, bodies),
            problems=problems or {},
            form=form or {},
        )

    async def handler(p: web.Page) -> Response:
        if p.request.method == "GET":
            return await show(p)
        given = values(p, kind.fields)
        body = kind.body(p, given) if kind.body else {kind.singular: given}
        try:
            made = await p.cloud.post(kind.service, kind.path, body)
        except _REFUSED as exc:
            return await show(p, exc.status, problems_for(exc, kind.fields), given)
        made_id = (made.get(kind.singular) or {}).get(kind.id_key, "") if made else ""
        target = f"{kind.base}/{made_id}" if made_id else kind.base
        return p.redirect(target, f"{kind.title}: created.")

    return handler


def item_get(p: web.Page, kind: Kind, item_id: str) -> Get:
    """The GET that finds one item: its own, or the list's for a `list_only` kind."""
    return list_get(p, kind) if kind.list_only else Get(kind.service, f"{kind.path}/{item_id}")


def found_item(p: web.Page, kind: Kind, item_id: str, body: Any) -> Values:
    """The item in its GET's body (or in the list, for a kind the API cannot GET alone);
    another project's item, or one the page may not show, is not found."""
    if kind.list_only:
        matches = [i for i in kept(p, kind, body) if str(i.get(kind.id_key)) == item_id]
        item = matches[0] if matches else None
    else:
        item = kind.unwrap(body[kind.singular])
        item = item if kind.keep(p, item) else None
    if item is None:
        raise errors.NotFound(f"{kind.title} {item_id} could not be found.")
    return item


async def one(p: web.Page, kind: Kind, item_id: str) -> Values:
    body = (await p.cloud.batch(item_get(p, kind, item_id)))[0]
    return found_item(p, kind, item_id, body)


def _detail_page(kind: Kind) -> web.Handler:
    async def handler(p: web.Page) -> Response:
        item_id = p.request.path_params["item_id"]
        fields = tuple(f for a in kind.actions for f in a.fields)
        wanted, gets = option_gets(p, fields)
        kids = [KINDS[slug] for slug, _ in kind.children]
        trace = [timeline.trace_get(kind.service, f"{kind.path}/{item_id}")] if kind.traced else []
        body, *rest = await p.cloud.batch(
            item_get(p, kind, item_id),
            *trace,
            *gets,
            *(
                list_get(p, KINDS[slug], optional=True, **{key: item_id})
                for slug, key in kind.children
            ),
        )
        item = found_item(p, kind, item_id, body)
        traced = timeline.laid_out(rest.pop(0)) if kind.traced else None
        bodies, children = rest[: len(gets)], rest[len(gets) :]
        return p.render(
            "kind_item.html",
            kind=kind,
            item=item,
            cell=cell,
            options=options_of(p, wanted, bodies),
            children=[(k, kept(p, k, b)) for k, b in zip(kids, children, strict=True)],
            item_id=item_id,
            trace=traced,
        )

    return handler


def _delete(kind: Kind) -> web.Handler:
    async def handler(p: web.Page) -> Response:
        item_id = p.request.path_params["item_id"]
        await one(p, kind, item_id)  # another project's item is not found, not deleted
        try:
            await p.cloud.delete(kind.service, f"{kind.path}/{item_id}")
        except _REFUSED as exc:
            return p.redirect(f"{kind.base}/{item_id}", error=web.message(exc))
        return p.redirect(kind.base, f"{kind.title} {item_id}: deleted.")

    return handler


def _act(kind: Kind) -> web.Handler:
    by_name = {a.name: a for a in kind.actions}

    async def handler(p: web.Page) -> Response:
        item_id = p.request.path_params["item_id"]
        action = by_name.get(p.request.path_params["action"])
        if action is None:
            raise errors.NotFound("No such action.")
        await one(p, kind, item_id)
        try:
            await action.call(p, item_id, values(p, action.fields))
        except _REFUSED as exc:
            return p.redirect(f"{kind.base}/{item_id}", error=f"{action.label}: {web.message(exc)}")
        return p.redirect(f"{kind.base}/{item_id}", f"{action.label}: done.")

    return handler


def routes_for(*kinds: Kind) -> list[Route]:
    found: list[Route] = []
    for kind in kinds:
        KINDS[kind.slug] = kind
        admin = kind.section == "admin"
        methods = ["GET", "POST"] if kind.fields else ["GET"]
        found += [
            Route(kind.base, web.page(_list_page(kind), admin), methods=methods),
            Route(kind.base + "/{item_id}", web.page(_detail_page(kind), admin)),
            Route(
                kind.base + "/{item_id}/do/{action}", web.page(_act(kind), admin), methods=["POST"]
            ),
        ]
        if kind.deletable:
            found.append(
                Route(
                    kind.base + "/{item_id}/delete",
                    web.page(_delete(kind), admin),
                    methods=["POST"],
                )
            )
    return found
