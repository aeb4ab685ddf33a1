"""Messages reach each reader in their language: an e-mail in the recipient's preference (whoever
caused it), an error page in the request's language."""

from __future__ import annotations

from email import message_from_bytes
from email.header import decode_header, make_header

from aiosmtpd.controller import Controller
from sqlalchemy import select

from services.directory.models import User
from services.i18n import _l
from services.notifications.mailer import send_pending
from services.notifications.models import Notification
from services.notifications.service import notify
from tests.helpers import free_port, sign_in


class Inbox:
    def __init__(self) -> None:
        self.mails: dict[str, tuple[str, str]] = {}  # recipient -> (subject, body)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        mail = message_from_bytes(envelope.content)
        subject = str(make_header(decode_header(mail["Subject"])))
        for rcpt in envelope.rcpt_tos:
            self.mails[rcpt] = (subject, mail.get_payload(decode=True).decode().replace("\r\n", "\n"))
        return "250 OK"


async def _user(db, username: str) -> User:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return (await session.scalars(select(User).where(User.username == username))).one()


async def test_each_recipient_gets_the_e_mail_and_the_list_in_their_language(demo_db_sqlite, settings, client_for) -> None:
    db = demo_db_sqlite
    # The English reader chooses English on the page; that is their preference from now on.
    english = await client_for(db)
    await sign_in(english, "thu.le")
    assert (await english.get("/lang/en?next=/notifications")).status_code == 303
    thu, lan = await _user(db, "thu.le"), await _user(db, "lan.nguyen")
    assert (thu.language, lan.language) == ("en", "vi")

    async with db.session() as session:  # one event, two recipients (the actor's language plays no part)
        await notify(
            session,
            user_ids=[thu.id, lan.id],
            kind="task.overdue",
            link="/tasks/1",
            title=_l("Task overdue (due {due}): {label}", due="05/01/2027", label="Báo cáo quý IV"),
            body=_l("The task is overdue. Complete it or tell the assigner why."),
        )

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings.smtp_host, settings.smtp_port = controller.hostname, controller.port
        assert await send_pending(db, settings) == 2
    finally:
        controller.stop()
    assert inbox.mails[thu.email] == (
        "[Liên Thông] Task overdue (due 05/01/2027): Báo cáo quý IV",
        "Task overdue (due 05/01/2027): Báo cáo quý IV\n\nThe task is overdue. Complete it or tell the assigner why.\n\n"
        f"{settings.base_url}/tasks/1\n",
    )
    subject, body = inbox.mails[lan.email]
    assert subject == "[Liên Thông] Nhiệm vụ quá hạn (hạn 05/01/2027): Báo cáo quý IV"
    assert "Nhiệm vụ đã quá hạn. Hãy hoàn thành hoặc báo cáo lý do với người giao." in body

    page = await english.get("/notifications")
    assert "Task overdue (due 05/01/2027): Báo cáo quý IV" in page.text and "Nhiệm vụ quá hạn" not in page.text


async def test_a_stored_notification_from_before_the_catalogues_still_reads(demo_db_sqlite) -> None:
    """Rows written before msgids were stored (message NULL) keep their Vietnamese text."""
    thu = await _user(demo_db_sqlite, "thu.le")
    async with demo_db_sqlite.session() as session:
        note = Notification(user_id=thu.id, kind="task.overdue", title="Nhiệm vụ quá hạn: A", body="Hãy đôn đốc.")
        session.add(note)
    assert (note.text("title", "en"), note.text("body", "en")) == ("Nhiệm vụ quá hạn: A", "Hãy đôn đốc.")


async def test_an_error_page_speaks_the_readers_language(demo_db_sqlite, client_for) -> None:
    vi_reader, en_reader = await client_for(demo_db_sqlite), await client_for(demo_db_sqlite)
    for client in (vi_reader, en_reader):
        await sign_in(client, "thu.le")
    en_reader.cookies.set("lt_lang", "en")
    vi_page = await vi_reader.get("/notifications/999999/open")
    en_page = await en_reader.get("/notifications/999999/open")
    assert vi_page.status_code == en_page.status_code == 404
    assert "Không tìm thấy thông báo." in vi_page.text and "notification not found" not in vi_page.text
    assert "notification not found" in en_page.text and "Không tìm thấy thông báo." not in en_page.text
    api = await en_reader.get("/notifications/999999/open", headers={"accept": "application/json"})
    assert api.json()["message"] == "notification not found"
