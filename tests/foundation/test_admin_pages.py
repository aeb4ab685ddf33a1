"""The administration pages in people's words."""

from __future__ import annotations

import re

from sqlalchemy import select

from services.directory.models import Organization
from tests.helpers import sign_in


def _label_of(html: str, form_action: str, field: str) -> str:
    """The label text of `field` in the form posting to `form_action`."""
    form = html.split(f'action="{form_action}"', 1)[1].split("</form>", 1)[0]
    match = re.search(rf"<label>([^<]*)<input name=\"{field}\"", form)
    assert match, f"no labelled {field} field in the form to {form_action}"
    return match.group(1)


async def test_the_organisation_forms_ask_for_the_organisations_name_not_a_persons(demo_db_sqlite, client_for) -> None:
    async with demo_db_sqlite.session() as session:
        district = await session.scalar(select(Organization.id).where(Organization.code == "hlhpn-chauthanh"))
    admin = await client_for(demo_db_sqlite)
    await sign_in(admin, "quantri")
    adding = (await admin.get("/admin")).text
    editing = (await admin.get(f"/admin/orgs/{district}")).text
    assert _label_of(adding, "/admin/orgs", "name") == "Tên cơ quan, tổ chức"
    assert _label_of(editing, f"/admin/orgs/{district}", "name") == "Tên cơ quan, tổ chức"
    # The user forms still ask for a person's full name.
    assert _label_of(editing, f"/admin/orgs/{district}/users", "full_name") == "Họ và tên"
    admin.cookies.set("lt_lang", "en")
    assert _label_of((await admin.get(f"/admin/orgs/{district}")).text, f"/admin/orgs/{district}", "name") == "Organisation name"
