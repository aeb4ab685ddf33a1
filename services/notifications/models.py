from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.db import Base, utcnow
from services.i18n import Message, render


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column()
    email_state: Mapped[str] = mapped_column(String(16), default="none")  # none | pending | sent | failed
    # {"title": msgid + params, "body": …} so each reader gets their language; rows written before
    # it (NULL) keep the Vietnamese `title` and `body` they were stored with.
    message: Mapped[str | None] = mapped_column(Text)

    def text(self, part: str, locale: str) -> str:
        """`part` ("title" or "body") in `locale`."""
        stored = json.loads(self.message).get(part) if self.message else None
        if stored is None:
            return self.title if part == "title" else self.body
        return render(Message.from_json(stored) if isinstance(stored, dict) else stored, locale)
