"""Tables of tracked tasks (nhiệm vụ): work someone must do by a due date.

Tasks are generic: a meeting conclusion creates them today, a leader's direction on an incoming
document may later. `source_type`/`source_id` say where a task came from, without this package
depending on those domains (services never import meetings).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.db import Base, utcnow


class TaskStatus(str, enum.Enum):
    waiting = "waiting"  # Chờ xử lý: assigned, not started
    in_progress = "in_progress"  # Đang xử lý
    done = "done"  # Đã hoàn thành
    cancelled = "cancelled"


class OwnerKind(str, enum.Enum):
    user = "user"  # a person
    unit = "unit"  # a department inside an organisation (its head answers for it)
    organization = "organization"  # a whole body, often at a lower level (its leaders answer)


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True, doc="the assigning body")
    source_type: Mapped[str] = mapped_column(String(32), default="manual", doc="minutes | incoming | manual")
    source_id: Mapped[int | None] = mapped_column(Integer, index=True)
    source_item_id: Mapped[int | None] = mapped_column(Integer, doc="e.g. the agenda item of a conclusion")
    source_label: Mapped[str] = mapped_column(String(500), default="")
    source_link: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_kind: Mapped[OwnerKind] = mapped_column(Enum(OwnerKind, native_enum=False, length=16))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    owner_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[TaskStatus] = mapped_column(Enum(TaskStatus, native_enum=False, length=16), default=TaskStatus.waiting, index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0, doc="percent reported by the owner")
    result: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    done_at: Mapped[datetime | None] = mapped_column()
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def owner_id(self) -> int | None:
        return self.owner_user_id or self.owner_unit_id or self.owner_org_id

    @property
    def owner_ref(self) -> str:
        """ "<kind>:<id>", as the owner pickers of the pages write it."""
        return f"{self.owner_kind.value}:{self.owner_id}"

    def assign_to(self, kind: OwnerKind, owner_id: int) -> None:
        self.owner_kind = kind
        self.owner_user_id = owner_id if kind == OwnerKind.user else None
        self.owner_unit_id = owner_id if kind == OwnerKind.unit else None
        self.owner_org_id = owner_id if kind == OwnerKind.organization else None


class TaskUpdate(Base):
    """One line of a task's history: progress reported, completion, comment."""

    __tablename__ = "task_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), doc="created | started | progress | done | reopened")
    body: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
