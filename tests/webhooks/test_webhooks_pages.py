"""The admin pages of webhooks (/admin/webhooks) through the app, as a browser sends forms."""

from __future__ import annotations

import re

from tests.helpers import csrf_of, sign_in


async def test_an_administrator_subscribes_on_the_page_and_sees_the_secret_once(demo_db_sqlite, client_for, settings) -> None:
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "quantri")
    listing = await client.get("/admin/webhooks")
    assert listing.status_code == 200 and "Chưa có địa chỉ nhận nào" in listing.text
    assert 'href="/admin/webhooks"' in (await client.get("/admin")).text  # linked from the administration page

    token = await csrf_of(client, "/admin/webhooks")
    org = re.search(r'<option value="(\d+)" selected>', listing.text).group(1)
    form = {
        "csrf_token": token,
        "organization_id": org,
        "url": "https://hooks.example.vn/lt",
        "events": ["incoming.arrived", "minutes.signed"],
    }
    created = await client.post("/admin/webhooks", data=form)
    assert created.status_code == 201
    secret = re.search(r"<code class=\"token\" data-secret>(whsec_[\w-]+)</code>", created.text).group(1)
    sub_id = re.search(r"/admin/webhooks/(\d+)/test", created.text).group(1)
    page = await client.get(f"/admin/webhooks/{sub_id}")
    assert secret not in page.text and "Biên bản họp được ký" in page.text

    # Without the form's token nothing happens.
    assert (await client.post(f"/admin/webhooks/{sub_id}/test", data={})).status_code == 403
    sent = await client.post(f"/admin/webhooks/{sub_id}/test", data={"csrf_token": token})
    assert sent.status_code == 303
    page = await client.get(f"/admin/webhooks/{sub_id}")
    assert "Sự kiện thử" in page.text and "Chờ gửi" in page.text

    assert (await client.post(f"/admin/webhooks/{sub_id}/disable", data={"csrf_token": token})).status_code == 303
    assert "Đã tạm dừng" in (await client.get(f"/admin/webhooks/{sub_id}")).text
    assert (await client.post(f"/admin/webhooks/{sub_id}/delete", data={"csrf_token": token})).status_code == 303
    assert (await client.get(f"/admin/webhooks/{sub_id}")).status_code == 404

    # A plain-HTTP address is refused with a message that says what to do.
    refused = await client.post("/admin/webhooks", data={**form, "url": "http://hooks.example.vn/lt"})
    assert refused.status_code == 422 and "HTTPS" in refused.text


async def test_other_roles_do_not_see_the_page(demo_db_sqlite, client_for) -> None:
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "mai.tran")
    assert (await client.get("/admin/webhooks")).status_code == 403
