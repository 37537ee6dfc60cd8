"""Domain-specific configuration (Keystone's `/v3/domains/{id}/config`): per domain, options of
the `identity` and `ldap` groups, whole, by group or by option, and the defaults a domain
without its own has. Overcast keeps and serves them; the identity back end stays SQL.
Sensitive options (the LDAP password) are stored but never shown."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.common import errors
from overcast.identity import lookup, models

# The options a domain may set, with the defaults a domain without its own has.
DEFAULTS: dict[str, dict[str, Any]] = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {
        "url": "ldap://localhost",
        "user": None,
        "suffix": "cn=example,cn=com",
        "query_scope": "one",
        "page_size": 0,
        "alias_dereferencing": "default",
        "debug_level": None,
        "chase_referrals": None,
        "user_tree_dn": None,
        "user_filter": None,
        "user_objectclass": "inetOrgPerson",
        "user_id_attribute": "cn",
        "user_name_attribute": "sn",
        "user_description_attribute": "description",
        "user_mail_attribute": "mail",
        "user_enabled_attribute": "enabled",
        "group_tree_dn": None,
        "group_filter": None,
        "group_objectclass": "groupOfNames",
        "group_id_attribute": "cn",
        "group_name_attribute": "ou",
        "group_member_attribute": "member",
        "group_desc_attribute": "description",
        "use_tls": False,
        "tls_req_cert": "demand",
    },
}
SENSITIVE = {("ldap", "password")}

Config = dict[str, dict[str, Any]]


def _allowed(group: str, option: str | None = None) -> None:
    if group not in DEFAULTS:
        raise errors.Forbidden(
            f"Invalid domain specific configuration: group {group} is not allowed."
        )
    if option is not None and option not in DEFAULTS[group] and (group, option) not in SENSITIVE:
        raise errors.Forbidden(
            f"Invalid domain specific configuration: option {option} in group {group} is not allowed."
        )


def check(config: Any) -> Config:
    """A `config` body: groups of options, each allowed (403 otherwise, as Keystone answers)."""
    if not isinstance(config, dict) or not config:
        raise errors.BadRequest("Invalid input: 'config' must be a non-empty object of groups.")
    for group, options in config.items():
        if not isinstance(options, dict) or not options:
            raise errors.BadRequest(f"Invalid input: group {group} must be an object of options.")
        for option in options:
            _allowed(group, option)
    return config


def default(group: str | None = None, option: str | None = None) -> Config | dict[str, Any]:
    if group is None:
        return {g: dict(o) for g, o in DEFAULTS.items()}
    _allowed(group, option)
    if option is None:
        return {group: dict(DEFAULTS[group])}
    return {option: DEFAULTS[group].get(option)}


async def read(
    session: AsyncSession, domain_id: str, group: str | None = None, option: str | None = None
) -> Any:
    """The domain's configuration, one group of it or one option (404 when it has none)."""
    await lookup.get(session, models.Domain, domain_id)
    if group is not None:
        _allowed(group, option)
    stmt = select(models.DomainConfig).where(models.DomainConfig.domain_id == domain_id)
    if group is not None:
        stmt = stmt.where(models.DomainConfig.group == group)
    if option is not None:
        stmt = stmt.where(models.DomainConfig.option == option)
    out: Config = {}
    for row in (await session.execute(stmt)).scalars():
        if (row.group, row.option) not in SENSITIVE:
            out.setdefault(row.group, {})[row.option] = row.value
    if not out:
        where = f"group {group} of " if group else ""
        raise errors.NotFound(f"Could not find {where}the configuration of domain {domain_id}.")
    return out[group] if option is not None and group is not None else out


async def write(session: AsyncSession, domain_id: str, config: Config, *, replace: bool) -> bool:
    """Set options (all of them with `replace`); True when the domain had none before."""
    await lookup.get(session, models.Domain, domain_id)
    table = models.DomainConfig
    had = await session.scalar(select(table.option).where(table.domain_id == domain_id).limit(1))
    if replace:
        await session.execute(delete(table).where(table.domain_id == domain_id))
    for group, options in check(config).items():
        for option, value in options.items():
            row = await session.get(table, (domain_id, group, option))
            if row is None:
                session.add(table(domain_id=domain_id, group=group, option=option, value=value))
            else:
                row.value = value
    await session.flush()
    return had is None


async def remove(
    session: AsyncSession, domain_id: str, group: str | None = None, option: str | None = None
) -> None:
    """Delete the domain's configuration, a group or an option of it (404 when absent)."""
    await read(session, domain_id, group, option)
    table = models.DomainConfig
    stmt = delete(table).where(table.domain_id == domain_id)
    if group is not None:
        stmt = stmt.where(table.group == group)
    if option is not None:
        stmt = stmt.where(table.option == option)
    await session.execute(stmt)
