// Meeting documents in the room: opening one shows its pages as images (a PDF's pages, a DOCX
// converted once on the server, or the image itself), loaded only when first opened.
(() => {
  const list = document.querySelector(".mt-doclist");
  if (!list) return;
  const msg = (key, values) => Object.entries(values || {}).reduce(
    (text, [k, v]) => text.replace(k, v), list.dataset[key] || "");

  async function show(details) {
    const status = details.querySelector("[data-doc-status]");
    const box = details.querySelector("[data-doc-images]");
    try {
      const response = await fetch(details.dataset.docPages, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(String(response.status));
      const doc = await response.json();
      box.replaceChildren();
      const srcs = doc.image ? [doc.image] : Array.from({ length: doc.shown }, (_, i) => `${doc.base}/${i + 1}.png`);
      srcs.forEach((src, i) => {
        const link = document.createElement("a");
        link.href = src; link.target = "_blank"; link.rel = "noopener";
        const img = document.createElement("img");
        img.src = src; img.loading = i ? "lazy" : "eager";
        img.alt = msg("msgPage", { __N__: i + 1, __T__: doc.pages });
        link.append(img);
        box.append(link);
      });
      if (doc.sha) box.dataset.pdfSha = doc.sha;
      box.dataset.pages = doc.pages;
      box.hidden = srcs.length === 0;
      status.textContent = doc.image ? "" : msg("msgPages", { __N__: doc.pages })
        + (doc.pages > doc.shown ? " — " + msg("msgFirst", { __N__: doc.shown }) : "");
      if (!srcs.length) status.textContent = msg("msgFailed");
    } catch (error) {
      status.textContent = msg("msgFailed");
      delete details.dataset.loaded;  // try again when opened again
    }
  }

  list.querySelectorAll("details[data-doc-pages]").forEach((details) => {
    details.addEventListener("toggle", () => {
      if (details.open && !details.dataset.loaded) { details.dataset.loaded = "1"; show(details); }
    });
  });
})();
