"""Policies, OAuth1 consumers, endpoint groups and domain configuration through openstacksdk
(and raw calls for the consumer API no client has): create, read, update, delete, bad input."""

from __future__ import annotations

import uuid

import httpx
import openstack
import openstack.exceptions as osexc
import pytest

from tests.helpers.server import Server


def test_policies(admin: openstack.connection.Connection) -> None:
    policy = admin.identity.create_policy(blob='{"a": "b"}', type="application/json")
    assert admin.identity.get_policy(policy.id).blob == '{"a": "b"}'
    admin.identity.update_policy(policy, blob="{}")
    assert admin.identity.get_policy(policy.id).blob == "{}"
    assert policy.id in {p.id for p in admin.identity.policies()}
    admin.identity.delete_policy(policy)
    with pytest.raises(osexc.NotFoundException):
        admin.identity.get_policy(policy.id)
    with pytest.raises(osexc.BadRequestException):
        admin.identity.create_policy(blob=7, type="x")


def test_consumers_show_their_secret_once(
    server: Server, admin: openstack.connection.Connection
) -> None:
    headers = {"X-Auth-Token": admin.auth_token}
    url = server.url + "/v3/OS-OAUTH1/consumers"
    made = httpx.post(url, json={"consumer": {"description": "d"}}, headers=headers).json()
    consumer = made["consumer"]
    assert consumer["secret"]
    shown = httpx.get(f"{url}/{consumer['id']}", headers=headers).json()["consumer"]
    assert "secret" not in shown and shown["description"] == "d"
    assert httpx.delete(f"{url}/{consumer['id']}", headers=headers).status_code == 204
    assert httpx.get(f"{url}/{consumer['id']}", headers=headers).status_code == 404


def test_endpoint_groups(admin: openstack.connection.Connection) -> None:
    group = admin.identity.create_endpoint_group(
        name=f"eg-{uuid.uuid4().hex[:6]}", filters={"interface": "public"}
    )
    assert admin.identity.get_endpoint_group(group.id).filters == {"interface": "public"}
    admin.identity.update_endpoint_group(group, description="public ones")
    assert admin.identity.get_endpoint_group(group.id).description == "public ones"
    admin.identity.delete_endpoint_group(group)
    with pytest.raises(osexc.BadRequestException):
        admin.identity.create_endpoint_group(name="bad", filters={"colour": "red"})


def test_domain_configuration(admin: openstack.connection.Connection) -> None:
    domain = admin.identity.create_domain(name=f"cfg-{uuid.uuid4().hex[:6]}")
    config = {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://example.org/"}}
    made = admin.identity.create_domain_config(domain, **config)
    assert made.identity.driver == "ldap"
    admin.identity.update_domain_config(domain, ldap={"user_tree_dn": "ou=People"})
    shown = admin.identity.get_domain_config(domain)
    assert (shown.ldap.url, shown.ldap.user_tree_dn) == ("ldap://example.org/", "ou=People")
    with pytest.raises(osexc.ForbiddenException):
        admin.identity.update_domain_config(domain, ldap={"colour": "red"})
    admin.identity.delete_domain_config(domain)
    with pytest.raises(osexc.NotFoundException):
        admin.identity.get_domain_config(domain)
    admin.identity.update_domain(domain, is_enabled=False)
    admin.identity.delete_domain(domain)
