"""Request bodies of the domain, project, user, group and role routes, with Keystone's limits.

Strict types (a string is not a number, `enabled` is a JSON boolean); attributes Keystone does
not model are allowed and kept, as Keystone keeps them. `values()` gives what was sent.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from overcast.common import errors

NAME_64 = Field(None, min_length=1, max_length=64, pattern=r"\S")
NAME_255 = Field(None, min_length=1, max_length=255, pattern=r"\S")
ID = Field(None, min_length=1, max_length=64)
SECRET = Field(None, min_length=1, max_length=4096)


class Fields(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    # Optional so that an update may leave them out, but never null when given.
    NOT_NULL: ClassVar[tuple[str, ...]] = ("name", "enabled", "is_domain")

    @model_validator(mode="after")
    def _not_null(self) -> Fields:
        for name in self.NOT_NULL:
            if name in self.model_fields_set and getattr(self, name, None) is None:
                raise ValueError(f"'{name}' may not be null")
        return self

    def values(self) -> dict[str, Any]:
        """The attributes the request sent (extras included), without defaults."""
        return self.model_dump(exclude_unset=True)


class DomainIn(Fields):
    name: str | None = NAME_64
    description: str | None = None
    enabled: bool | None = None
    tags: list[str] | None = None
    options: dict[str, Any] | None = None


class ProjectIn(Fields):
    name: str | None = NAME_64
    description: str | None = None
    enabled: bool | None = None
    domain_id: str | None = ID
    parent_id: str | None = ID
    is_domain: bool | None = None
    tags: list[str] | None = None
    options: dict[str, Any] | None = None


class UserIn(Fields):
    name: str | None = NAME_255
    domain_id: str | None = ID
    enabled: bool | None = None
    password: str | None = SECRET
    default_project_id: str | None = ID
    description: str | None = None
    email: str | None = Field(None, max_length=255)
    options: dict[str, Any] | None = None


class GroupIn(Fields):
    name: str | None = NAME_64
    description: str | None = None
    domain_id: str | None = ID


class RoleIn(Fields):
    name: str | None = NAME_255
    description: str | None = Field(None, max_length=255)
    domain_id: str | None = ID
    options: dict[str, Any] | None = None


class DomainBody(BaseModel):
    model_config = ConfigDict(strict=True)
    domain: DomainIn


class ProjectBody(BaseModel):
    model_config = ConfigDict(strict=True)
    project: ProjectIn


class UserBody(BaseModel):
    model_config = ConfigDict(strict=True)
    user: UserIn


class GroupBody(BaseModel):
    model_config = ConfigDict(strict=True)
    group: GroupIn


class RoleBody(BaseModel):
    model_config = ConfigDict(strict=True)
    role: RoleIn


class PasswordIn(BaseModel):
    model_config = ConfigDict(strict=True)
    password: str = Field(min_length=1, max_length=4096)
    original_password: str = Field(min_length=1, max_length=4096)


class PasswordBody(BaseModel):
    model_config = ConfigDict(strict=True)
    user: PasswordIn


class TagsBody(BaseModel):
    model_config = ConfigDict(strict=True)
    tags: list[str]


def require_name(values: dict[str, Any], kind: str) -> None:
    """Creating needs a name; the models leave it optional for updates."""
    if values.get("name") is None:
        raise errors.BadRequest(f"Invalid input for field '{kind}.name': Field required")
