// Report requests: live progress for the requester (bar, counts, table rows), and the target
// picker's "pick" mode. Works without this file; it only saves reloading the page.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-live-progress]");
  if (box && window.LienThong) {
    const id = box.dataset.liveProgress;
    const labels = {};
    const statusLabels = {};
    const tpl = document.querySelector("template[data-state-labels]");
    if (tpl) {
      tpl.content.querySelectorAll("[data-state]").forEach((el) => { labels[el.dataset.state] = el.textContent; });
      tpl.content.querySelectorAll("[data-status]").forEach((el) => { statusLabels[el.dataset.status] = el.textContent; });
    }
    const status = document.querySelector("[data-live-status]");
    if (status) { status.dataset.lost = box.dataset.lost; status.dataset.back = box.dataset.back; }

    const setProgress = (p) => {
      if (!p) return;
      Object.entries(p).forEach(([key, value]) => {
        box.querySelectorAll(`[data-num="${key}"]`).forEach((el) => { el.textContent = value; });
      });
      const total = p.total || 1;
      const widths = { on_time: 100 * p.on_time / total, late: 100 * p.late / total, missing: 100 * p.missing / total };
      let x = 0;
      ["on_time", "late", "missing"].forEach((seg) => {
        const rect = box.querySelector(`[data-bar] [data-seg="${seg}"]`);
        if (rect) { rect.setAttribute("x", x.toFixed(3)); rect.setAttribute("width", widths[seg].toFixed(3)); }
        x += widths[seg];
      });
      const bar = box.querySelector("[data-bar]");
      if (bar) bar.setAttribute("aria-label", `${p.submitted}/${p.total}`);
      const fan = box.querySelector("[data-fanout]");
      if (fan && p.delivered >= p.total) fan.hidden = true;
    };
    const setRow = (t) => {
      if (!t) return;
      const row = document.querySelector(`[data-targets] tr[data-target="${t.organization_id}"]`);
      if (!row) return;
      const state = row.querySelector('[data-cell="state"]');
      if (state) { state.textContent = labels[t.state] || t.state; state.className = `badge rp-state-${t.state}`; }
      ["deadline", "submitted_at"].forEach((key) => {
        const cell = row.querySelector(`[data-cell="${key}"]`);
        if (cell) cell.textContent = t[key];
      });
      const versions = row.querySelector('[data-cell="versions"]');
      if (versions) versions.textContent = t.versions || "";
      row.classList.remove("rp-flash"); void row.offsetWidth; row.classList.add("rp-flash");
    };
    const resync = async () => {
      const response = await fetch(`/reports/${id}/progress.json`, { headers: { accept: "application/json" } });
      if (!response.ok) return;
      const data = await response.json();
      setProgress(data.progress);
      data.targets.forEach(setRow);
    };
    window.LienThong.follow(`report-${id}`, (event) => {
      if (event.kind === "resync") { resync(); return; }
      const data = event.data || {};
      setProgress(data.progress);
      setRow(data.target);
      if (data.status) {
        const badge = document.querySelector("[data-req-status]");
        if (badge && statusLabels[data.status]) { badge.textContent = statusLabels[data.status]; badge.className = `badge rp-status-${data.status}`; }
      }
      if (event.kind === "extended") resync();
    });
    const live = box.querySelector("[data-live-label]");
    if (live) live.hidden = false;
  }

  // Choosing targets one by one selects the "pick" scope; ticking a parent ticks its children.
  const form = document.querySelector("[data-report-form]");
  if (form) {
    form.querySelectorAll('input[name="target_ids"]').forEach((box) => {
      box.addEventListener("change", () => {
        const pick = form.querySelector('input[name="scope"][value="pick"]');
        if (pick) pick.checked = true;
        const tick = (parentId, value) => {
          form.querySelectorAll(`input[name="target_ids"][data-parent="${parentId}"]`).forEach((child) => {
            child.checked = value; tick(child.value, value);
          });
        };
        tick(box.value, box.checked);
      });
    });
    const under = form.querySelector('select[name="under_id"]');
    if (under) under.addEventListener("change", () => { form.querySelector('input[name="scope"][value="under"]').checked = true; });
  }
});
