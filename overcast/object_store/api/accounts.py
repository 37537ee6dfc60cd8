"""Account requests: HEAD/GET (usage headers and the container listing) and POST (metadata,
account ACLs, temp URL keys, quotas). Accounts are created on first use; PUT and DELETE are refused
as Swift refuses them without `allow_account_management`."""

from __future__ import annotations

from starlette.responses import Response

from overcast.common import errors
from overcast.object_store import access, constraints, listing
from overcast.object_store.api.call import Call, empty, require, title
from overcast.object_store.containers import AccountInfo

# Swift's account_quotas: the reseller's to set. Bytes by either name (`X-Account-Meta-Quota-
# Bytes`, and since Swift 2.34 `X-Account-Quota-Bytes`), and an object count.
QUOTAS = ("x-account-meta-quota-bytes", "x-account-quota-bytes", "x-account-quota-count")
OWNER_ONLY = (
    "x-account-meta-temp-url-key",
    "x-account-meta-temp-url-key-2",
    "x-account-access-control",
)


def usage_headers(info: AccountInfo, owner: bool) -> dict[str, str]:
    headers = {
        "X-Account-Container-Count": str(info.container_count),
        "X-Account-Object-Count": str(info.object_count),
        "X-Account-Bytes-Used": str(info.bytes_used),
        "X-Timestamp": info.created_ts if info.exists else constraints.now(),
        "X-Put-Timestamp": info.put_ts if info.exists else constraints.now(),
        "Accept-Ranges": "bytes",
        "X-Account-Storage-Policy-Policy-0-Container-Count": str(info.container_count),
        "X-Account-Storage-Policy-Policy-0-Object-Count": str(info.object_count),
        "X-Account-Storage-Policy-Policy-0-Bytes-Used": str(info.bytes_used),
    }
    for key, value in info.meta.items():
        if key in OWNER_ONLY and not owner:
            continue
        if key == "x-account-access-control":
            headers["X-Account-Access-Control"] = value
            continue
        headers[title(key)] = value
    return headers


async def handle(call: Call) -> Response:
    caller = await call.caller()
    if call.method in ("HEAD", "GET"):
        require(caller.owner or bool(caller.account_level), caller)
        info = await call.account_info()
        headers = usage_headers(info, caller.owner)
        if call.method == "HEAD":
            return empty(204, headers)
        return await _listing(call, headers)
    if call.method == "POST":
        require(caller.owner, caller)
        changes = call.meta_changes("account", extra=("x-account-access-control", *QUOTAS[1:]))
        acl = changes.get("x-account-access-control")
        if acl:
            changes["x-account-access-control"] = access.parse_account_acl(acl)
        if any(k in QUOTAS for k in changes) and not caller.reseller:
            raise errors.Forbidden()
        for key in QUOTAS:
            if changes.get(key) and not str(changes[key]).isdigit():
                raise errors.BadRequest(f"Invalid {title(key)}")
        await call.st.containers.post_account(call.account, constraints.now(), changes)
        return empty(204)
    if call.method in ("PUT", "DELETE"):
        raise errors.MethodNotAllowed()
    raise errors.MethodNotAllowed()


async def _listing(call: Call, headers: dict[str, str]) -> Response:
    query = listing.Query.from_params(call.params, constraints.ACCOUNT_LISTING_LIMIT)
    fmt = listing.choose_format(call.params, call.header("accept"))
    async with call.st.db.reader() as session:
        items = await listing.walk(session, query, listing.containers_page(call.account))
    if not items and fmt == "plain":
        return empty(204, headers)
    body = listing.render(fmt, "account", call.account, items, listing.container_entry)
    return Response(body, status_code=200, headers=headers, media_type=listing.MEDIA[fmt])
