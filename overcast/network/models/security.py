"""Security groups, their rules, and each project's `default` group (one per project)."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from overcast.network.models.base import Base, Standard


class SecurityGroup(Standard, Base):
    __tablename__ = "network_security_group"

    name: Mapped[str] = mapped_column(String(255), default="")
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)


class SecurityGroupRule(Standard, Base):
    __tablename__ = "network_security_group_rule"

    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("network_security_group.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(16))
    ethertype: Mapped[str] = mapped_column(String(8), default="IPv4")
    protocol: Mapped[str | None] = mapped_column(String(40), nullable=True)
    port_range_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_range_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64), nullable=True)
    remote_group_id: Mapped[str | None] = mapped_column(
        ForeignKey("network_security_group.id", ondelete="CASCADE"), nullable=True
    )
    remote_address_group_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class DefaultSecurityGroup(Base):
    """The project's `default` group; the key makes a second one impossible under races."""

    __tablename__ = "network_default_security_group"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("network_security_group.id", ondelete="CASCADE")
    )
