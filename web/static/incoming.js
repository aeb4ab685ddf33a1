// Incoming documents: duplicate check before saving, live "changed" note on the document page.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("incoming-new");
  if (form) {
    const box = document.getElementById("dup-box");
    const list = document.getElementById("dup-list");
    const confirm = document.getElementById("dup-confirm");
    const field = (name) => form.querySelector(`[name="${name}"]`);
    let timer = null;
    const check = async () => {
      const params = new URLSearchParams({
        org_id: field("organization_id").value,
        number_notation: field("number_notation").value,
        document_date: field("document_date").value,
        issuer_name: field("issuer_name").value,
        issuer_org_id: field("issuer_org_id").value,
      });
      if (!params.get("number_notation") || !params.get("document_date")) return;
      const response = await fetch(`${form.dataset.check}?${params}`, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const { duplicates } = await response.json();
      list.replaceChildren(...duplicates.map((d) => {
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = d.url;
        a.textContent = `${d.arrival_number || "—"} · ${d.number_notation} · ${d.issuer} · ${d.subject}`;
        li.append(a);
        return li;
      }));
      box.hidden = confirm.hidden = duplicates.length === 0;
    };
    ["number_notation", "document_date", "issuer_name", "issuer_org_id"].forEach((name) => {
      field(name).addEventListener("change", () => { clearTimeout(timer); timer = setTimeout(check, 200); });
    });
    field("issuer_org_id").addEventListener("change", (event) => {
      const option = event.target.selectedOptions[0];
      if (event.target.value && !field("issuer_name").value) field("issuer_name").value = option.textContent.trim();
    });
  }
  const note = document.querySelector("[data-live-doc]");
  if (note && window.LienThong) {
    window.LienThong.follow(`incoming-${note.dataset.liveDoc}`, (event) => {
      if (event.kind === "incoming.changed" || event.kind === "incoming.deadline" || event.kind === "resync") note.hidden = false;
    });
  }
});
