// Outgoing documents: type → body skeleton, recipient shortcuts, live recipient statuses.
(() => {
  "use strict";
  const type = document.getElementById("og-type");
  const body = document.getElementById("og-body");
  if (type && body) {
    const skeletons = JSON.parse(body.dataset.skeletons || "{}");
    let last = body.value;
    type.addEventListener("change", () => {
      // Only replace text the drafter has not changed since the last skeleton.
      const untouched = !body.value.trim() || Object.values(skeletons).includes(body.value) || body.value === last;
      if (untouched && skeletons[type.value] !== undefined) { body.value = skeletons[type.value]; last = body.value; }
    });
  }
  document.querySelectorAll('input[name="groups"]').forEach((box) => {
    box.addEventListener("change", () => {
      const level = box.value === "children" ? null : box.value;
      document.querySelectorAll(".og-tree label[data-level]").forEach((label) => {
        const own = label.closest(".og-tree").dataset.org;
        if (level === null ? label.dataset.parent === own : label.dataset.level === level) {
          label.querySelector("input").checked = box.checked;
        }
      });
    });
  });
  const page = document.querySelector(".og-doc[data-doc]");
  if (!page) return;
  const id = page.dataset.doc;
  let reloading = false;
  // A form being sent must win over a live reload (which would cancel its navigation).
  document.addEventListener("submit", () => { reloading = true; });
  const refresh = async () => {
    try {
      const answer = await fetch(`/outgoing/${id}/status`, { headers: { accept: "application/json" } });
      if (!answer.ok) return;
      const data = await answer.json();
      const preparing = page.querySelector("[data-og-preparing]");
      if ((data.status !== page.dataset.status || (preparing && data.prepared)) && !reloading) {
        reloading = true; window.location.reload(); return;
      }
      const pending = data.recipients.some((r) => !r.delivered && !r.external);
      data.recipients.forEach((r) => {
        const row = page.querySelector(`tr[data-recipient="${r.id}"]`);
        if (row && r.code && row.dataset.code !== r.code) { row.dataset.code = r.code; if (!reloading) { reloading = true; window.location.reload(); } }
      });
      if (pending || preparing) setTimeout(refresh, 3000);
    } catch (error) { setTimeout(refresh, 10000); }
  };
  page.querySelectorAll("tr[data-recipient]").forEach((row) => {
    const badge = row.querySelector("[data-status-cell] .badge[class*='og-code-']");
    if (badge) row.dataset.code = badge.className.match(/og-code-(\d+)/)[1];
  });
  if (window.LienThong && window.LienThong.follow) {
    window.LienThong.follow(`outgoing-${id}`, () => { refresh(); });
  }
  setTimeout(refresh, 2500);
  setInterval(refresh, 30000);
})();
