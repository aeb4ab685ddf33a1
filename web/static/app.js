// Progressive enhancement only: every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector(".menu-toggle");
  const nav = document.getElementById("nav");
  if (toggle && nav) {
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }
  // Actions that cannot be undone ask first (forms carry data-confirm="question"), forms a live
  // panel swapped in as well.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });
  document.querySelectorAll("a[data-back]").forEach((link) => {
    link.addEventListener("click", (event) => { event.preventDefault(); history.back(); });
  });
});

// The live channel: one WebSocket per page. Pages add channels with
// LienThong.follow("meeting-3", handler); the navigation badges follow the user channel. The
// first connect asks for what came after the event the page was rendered at (<body data-seq>),
// so a change between the rendering and the socket reaches the page too; a reconnect asks for
// what came after the last event seen. Pages that follow at DOMContentLoaded share the first connect.
window.LienThong = (() => {
  const handlers = new Map();
  let socket = null, lastSeq = null, firstAfter = null, retry = 500, timer = null;
  const status = () => document.querySelector("[data-live-status]");
  function channels() { return Array.from(handlers.keys()); }
  // A refused handshake looks like any failed one to a page (the browser shows no status): the
  // page asks whether its session still stands, and once it has ended (signed out, expired) stops
  // trying — thousands of tabs left open overnight would otherwise knock every ten seconds.
  async function sessionEnded() {
    try {
      const answer = await fetch("/api/me", { credentials: "same-origin", headers: { accept: "application/json" } });
      return answer.status === 401;
    } catch (error) { return false; }
  }
  // Live updates stopped for good: say why, and offer the way back (sign in, reload).
  function stopped(why, action, href) {
    const el = status();
    if (!el) return;
    el.hidden = false;
    el.dataset.stopped = why; // stays: later reconnects of the other channels do not replace it
    el.textContent = `${el.dataset[why]} `;
    const link = document.createElement("a");
    link.href = href;
    link.textContent = el.dataset[action];
    el.append(link);
  }
  function connect() {
    if (!channels().length) return;
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const from = lastSeq === null ? firstAfter : lastSeq;
    const after = from === null ? "" : `&after=${from}`;
    let opened = false; // the server said hello on this socket
    const mine = (socket = new WebSocket(`${proto}://${location.host}/ws?channels=${channels().join(",")}${after}`));
    socket.onopen = () => {
      retry = 500;
      const el = status();
      if (el && !el.hidden && !el.dataset.stopped) { el.textContent = el.dataset.back || "Đã kết nối lại."; setTimeout(() => { el.hidden = true; }, 2000); }
    };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.kind === "hello") {
        opened = true; // admitted: the server said hello
        if (lastSeq === null) lastSeq = firstAfter === null ? event.seq : firstAfter;
        // A channel refused now was granted before: the user's access changed (a meeting they
        // were removed from, a role taken away). The page stops following it and says so.
        const refused = channels().filter((channel) => !event.channels.includes(channel));
        if (refused.length) {
          refused.forEach((channel) => handlers.delete(channel));
          stopped("refused", "reload", location.href);
        }
        // Pages that rendered a state before the socket was there read it again now.
        document.dispatchEvent(new CustomEvent("lienthong:connected"));
        return;
      }
      if (event.kind === "resync") { lastSeq = event.seq; handlers.forEach((list) => list.forEach((fn) => fn(event))); return; }
      if (typeof event.seq === "number") lastSeq = Math.max(lastSeq || 0, event.seq);
      (handlers.get(event.channel) || []).forEach((fn) => fn(event));
    };
    socket.onclose = async (close) => {
      // The user's access changed (services/events/hub.py): connect again at once, and the
      // server decides the channels anew.
      if (close.code === 4001 && socket === mine) { timer = setTimeout(connect, 0); return; }
      const el = status();
      if (el && !el.dataset.stopped) { el.hidden = false; el.textContent = el.dataset.lost || "Mất kết nối, đang thử kết nối lại…"; }
      document.dispatchEvent(new CustomEvent("lienthong:disconnected"));
      clearTimeout(timer);
      const refused = !opened && (await sessionEnded());
      if (socket !== mine) return; // a page's follow() connected again meanwhile
      if (refused) { stopped("ended", "signin", `/login?next=${encodeURIComponent(location.pathname)}`); return; }
      timer = setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }
  function rendered() {
    const seq = Number.parseInt(document.body.dataset.seq, 10);
    return Number.isInteger(seq) ? seq : null;
  }
  function follow(channel, fn) {
    if (!handlers.has(channel)) handlers.set(channel, []);
    handlers.get(channel).push(fn);
    if (lastSeq === null) firstAfter = rendered();
    if (socket) { socket.onclose = null; socket.close(); }
    clearTimeout(timer);
    timer = setTimeout(connect, 0);
  }
  document.addEventListener("DOMContentLoaded", () => {
    const user = document.body.dataset.user;
    if (!user) return;
    follow(`user-${user}`, (event) => {
      const badge = document.querySelector('[data-count="notifications"]');
      if (badge && event.data && typeof event.data.unread === "number") {
        badge.textContent = event.data.unread;
        badge.hidden = event.data.unread === 0;
      }
    });
  });
  return { follow };
})();

// Page images of a document (signing pages): a button shows them at their rendered size, which
// a phone needs to read the text; the button exists only where this script runs.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-pages-zoom]").forEach((button) => {
    const region = button.parentElement.nextElementSibling;
    if (!region || !region.classList.contains("pdf-pages")) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      button.setAttribute("aria-pressed", String(region.classList.toggle("zoomed")));
    });
  });
});
