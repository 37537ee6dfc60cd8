"""The image service's default policy, as data: Glance's secure-RBAC defaults.

Targets carry `project_id` (the image's owner), `visibility` and, for shared images,
`member_id` (the caller's project when it is a member). Which images a project may *see* is
also decided in the query (`images.visible`), as Glance's database layer does.
"""

from __future__ import annotations

from overcast.common.http.policy import RuleDefault

_OWNER_MEMBER = "role:admin or (role:member and project_id:%(project_id)s)"
_VISIBLE = (
    "project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s"
    " or 'public':%(visibility)s or 'shared':%(visibility)s"
)

DEFAULTS = [
    RuleDefault("get_metadef_namespaces", "role:admin or role:reader"),
    RuleDefault("get_metadef_namespace", "role:admin or role:reader"),
    RuleDefault("add_metadef_namespace", "role:admin"),
    RuleDefault("modify_metadef_namespace", "role:admin", "Change a namespace or its parts."),
    RuleDefault("delete_metadef_namespace", "role:admin"),
    RuleDefault("add_image", _OWNER_MEMBER, "Create an image."),
    RuleDefault("get_images", "role:admin or (role:reader and project_id:%(project_id)s)"),
    RuleDefault("get_image", f"role:admin or (role:reader and ({_VISIBLE}))"),
    RuleDefault("modify_image", _OWNER_MEMBER, "Update an image's metadata or tags."),
    RuleDefault("publicize_image", "role:admin", "Make an image public."),
    RuleDefault("communitize_image", _OWNER_MEMBER, "Make an image community."),
    RuleDefault("delete_image", _OWNER_MEMBER),
    RuleDefault("deactivate", _OWNER_MEMBER),
    RuleDefault("reactivate", _OWNER_MEMBER),
    RuleDefault("upload_image", _OWNER_MEMBER, "Upload or stage image data."),
    RuleDefault("get_image_trace", "role:admin or (role:reader and project_id:%(project_id)s)"),
    RuleDefault("get_image_trace:hosts", "role:admin"),
    RuleDefault("download_image", f"role:admin or (role:member and ({_VISIBLE}))"),
    RuleDefault("import_image", _OWNER_MEMBER),
    RuleDefault("copy_image", "role:admin", "Copy an active image into more stores."),
    RuleDefault("delete_image_location", "role:admin", "Delete an image from one store."),
    RuleDefault("add_member", _OWNER_MEMBER),
    RuleDefault("delete_member", _OWNER_MEMBER),
    RuleDefault(
        "get_member",
        "role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))",
    ),
    RuleDefault(
        "get_members",
        "role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))",
    ),
    RuleDefault("modify_member", "role:admin or (role:member and project_id:%(member_id)s)"),
    RuleDefault("stores_info_detail", "role:admin"),
    RuleDefault("tasks_api_access", "role:admin", "Create, list and show tasks (/v2/tasks)."),
    RuleDefault("get_usage", "role:admin or role:reader"),
]
