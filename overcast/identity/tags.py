"""Project (and domain) tags: Keystone's rules for one tag and for a list, and the four list
filters (`tags`, `tags-any`, `not-tags`, `not-tags-any`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from overcast.common import errors

MAX_TAGS = 80
MAX_LENGTH = 255
FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


def check(tag: object) -> str:
    if not isinstance(tag, str) or not 1 <= len(tag) <= MAX_LENGTH:
        raise errors.BadRequest(
            f"Invalid input for field 'tags': a tag is a string of 1 to {MAX_LENGTH} characters."
        )
    if "/" in tag or "," in tag:
        raise errors.BadRequest(f"Invalid input for field 'tags': {tag!r} contains a '/' or a ','.")
    return tag


def check_list(tags: Iterable[object]) -> list[str]:
    """The tags, each checked, duplicates dropped, at most MAX_TAGS."""
    out: list[str] = []
    for tag in tags:
        if check(tag) not in out:
            out.append(str(tag))
    if len(out) > MAX_TAGS:
        raise errors.BadRequest(f"Invalid input for field 'tags': more than {MAX_TAGS} tags.")
    return out


def parse_filters(params: Mapping[str, str]) -> dict[str, set[str]]:
    """The tag filters of a list query, each a set of tags ("a,b" means a and b)."""
    return {name: {t for t in params[name].split(",") if t} for name in FILTERS if params.get(name)}


def matches(tags: Iterable[str], filters: Mapping[str, set[str]]) -> bool:
    have = set(tags)
    if "tags" in filters and not filters["tags"] <= have:
        return False
    if "tags-any" in filters and not filters["tags-any"] & have:
        return False
    if "not-tags" in filters and filters["not-tags"] <= have:
        return False
    return not ("not-tags-any" in filters and filters["not-tags-any"] & have)
