// Register prints and archives run in the background: the panel follows its print's live channel
// and swaps in the panel's current state (rendered by the server, in the reader's language) at
// every step. Without this file the page refreshes itself while a print runs (a <noscript> meta).
document.addEventListener("DOMContentLoaded", () => {
  if (!window.LienThong) return;
  document.querySelectorAll("[data-print-panel]").forEach((panel) => {
    const card = panel.querySelector("[data-print-card][data-print-id]");
    if (!card || !["queued", "running"].includes(card.dataset.printStatus)) return;
    const id = card.dataset.printId;
    let done = false, busy = false, again = false;
    const refresh = async () => {
      if (done) return;
      if (busy) { again = true; return; }
      busy = true;
      try {
        const response = await fetch(`/registers/prints/${id}`, { headers: { accept: "text/html" } });
        if (response.ok) {
          panel.innerHTML = await response.text();
          const now = panel.querySelector("[data-print-card]");
          if (now && !["queued", "running"].includes(now.dataset.printStatus)) {
            done = true;
            // The file is the next step: focus it, unless the reader is busy elsewhere on the page.
            const link = now.querySelector("[data-print-download]");
            const idle = !document.activeElement || document.activeElement === document.body || panel.contains(document.activeElement);
            if (link && idle) link.focus({ preventScroll: true });
          }
        }
      } finally {
        busy = false;
        if (again) { again = false; refresh(); }
      }
    };
    window.LienThong.follow(`print-${id}`, refresh);
    // What happened between the page's rendering and the socket's opening (or while it was down).
    document.addEventListener("lienthong:connected", refresh);
  });
});
