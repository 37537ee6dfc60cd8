"""Identity's plain records, served by `simple.router`: policy blobs (`/v3/policies`), OAuth1
consumers (`/v3/OS-OAUTH1/consumers`, their secret shown once) and endpoint groups
(`/v3/OS-EP-FILTER/endpoint_groups`, endpoints chosen by interface, service and region)."""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from overcast.identity import models
from overcast.identity.api.simple import Record, router


class PolicyIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    blob: str = Field(max_length=65535)
    type: str = Field(min_length=1, max_length=255)


class PolicyPatch(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    blob: str | None = Field(None, max_length=65535)
    type: str | None = Field(None, min_length=1, max_length=255)


class ConsumerIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    description: str | None = Field(None, max_length=65535)


_FILTER_KEYS = {"interface", "service_id", "region_id"}


def _filters(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and (set(value) - _FILTER_KEYS or not value):
        raise ValueError(f"filters may hold only {', '.join(sorted(_FILTER_KEYS))}")
    return value


class EndpointGroupIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(None, max_length=65535)
    filters: dict[str, str]

    _check = field_validator("filters")(_filters)


class EndpointGroupPatch(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    name: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=65535)
    filters: dict[str, str] | None = None

    _check = field_validator("filters")(_filters)


POLICIES = Record(
    "/v3/policies",
    "policy",
    "policies",
    models.Policy,
    PolicyIn,
    PolicyPatch,
    frozenset({"blob", "type"}),
    filters=("type",),
)
CONSUMERS = Record(
    "/v3/OS-OAUTH1/consumers",
    "consumer",
    "consumers",
    models.Consumer,
    ConsumerIn,
    ConsumerIn,
    frozenset({"description", "secret"}),
    made=lambda: {"secret": secrets.token_urlsafe(24)},
    once=frozenset({"secret"}),
)
ENDPOINT_GROUPS = Record(
    "/v3/OS-EP-FILTER/endpoint_groups",
    "endpoint_group",
    "endpoint_groups",
    models.EndpointGroup,
    EndpointGroupIn,
    EndpointGroupPatch,
    frozenset({"name", "description", "filters"}),
    filters=("name",),
)

ROUTERS = [router(r) for r in (POLICIES, CONSUMERS, ENDPOINT_GROUPS)]
