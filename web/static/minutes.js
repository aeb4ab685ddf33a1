// Minutes (biên bản): autosave with revisions for the secretary, live read-only view for
// participants. Everything typed is shown with textContent, never as HTML.
(() => {
  const app = document.getElementById("minutes-app");
  if (!app) return;
  const boot = JSON.parse(app.dataset.boot);
  const csrf = app.dataset.csrf;
  let revision = boot.revision;
  let dirty = false, saving = false, timer = null;
  // A form being sent, or one the user has started filling in (a signing PIN, a task), must win
  // over the live reload: reloading would cancel the submission or throw away what was typed.
  let leaving = false, filling = false;
  document.addEventListener("submit", () => { leaving = true; });
  document.addEventListener("input", (event) => {
    if (event.target.closest && event.target.closest("form")) filling = true;
  });
  const status = app.querySelector("[data-save-status]");
  const say = (text) => { if (status) status.textContent = text; };
  const speechesFor = (itemId) => boot.speeches.filter((s) => s.agenda_item_id === itemId || s.agenda_item_id === null);

  function opinionRow(itemId, op) {
    const row = document.createElement("div");
    row.className = "opinion";
    const select = document.createElement("select");
    select.setAttribute("aria-label", "Người phát biểu");
    const free = document.createElement("option");
    free.value = ""; free.textContent = "— Người khác (nhập tên) —";
    select.appendChild(free);
    boot.speeches.forEach((s) => {
      const o = document.createElement("option");
      o.value = String(s.id); o.textContent = s.label + (s.agenda_item_id === itemId ? "" : " *");
      select.appendChild(o);
    });
    select.value = op.speech_id ? String(op.speech_id) : "";
    const name = document.createElement("input");
    name.placeholder = "Tên người phát biểu"; name.value = op.speech_id ? "" : (op.name || "");
    name.hidden = Boolean(op.speech_id);
    select.addEventListener("change", () => { name.hidden = select.value !== ""; changed(); });
    const text = document.createElement("textarea");
    text.rows = 2; text.value = op.text || ""; text.placeholder = "Nội dung ý kiến";
    const remove = document.createElement("button");
    remove.type = "button"; remove.className = "small danger"; remove.textContent = "Xóa";
    remove.addEventListener("click", () => { row.remove(); changed(); });
    [select, name, text].forEach((el) => el.addEventListener("input", changed));
    row.append(select, name, text, remove);
    return row;
  }

  function fill(content) {
    const set = (el, value) => { if (el && el.value !== value) el.value = value || ""; };
    set(app.querySelector('#minutes-opening [data-field="opening"]'), content.opening);
    set(app.querySelector('#minutes-closing [data-field="closing"]'), content.closing);
    app.querySelectorAll("[data-item]").forEach((section) => {
      const itemId = Number(section.dataset.item);
      const text = (content.items || {})[String(itemId)] || {};
      set(section.querySelector('[data-field="discussion"]'), text.discussion);
      set(section.querySelector('[data-field="conclusion"]'), text.conclusion);
      const box = section.querySelector("[data-opinions]");
      if (box) { box.replaceChildren(...(text.opinions || []).map((op) => opinionRow(itemId, op))); }
    });
  }

  function collect() {
    const value = (el) => (el ? el.value : "");
    const content = {
      opening: value(app.querySelector('[data-field="opening"]')),
      closing: value(app.querySelector('[data-field="closing"]')),
      items: {},
    };
    app.querySelectorAll("[data-item]").forEach((section) => {
      const opinions = Array.from(section.querySelectorAll(".opinion")).map((row) => {
        const [select, name, text] = row.querySelectorAll("select, input, textarea");
        return { speech_id: select.value ? Number(select.value) : null, name: name.value, text: text.value };
      });
      content.items[section.dataset.item] = {
        discussion: value(section.querySelector('[data-field="discussion"]')),
        conclusion: value(section.querySelector('[data-field="conclusion"]')),
        opinions,
      };
    });
    return content;
  }

  function plain(content) {
    // Both versions side by side, as plain text.
    const parts = [];
    if (content.opening) parts.push(content.opening);
    boot.items.forEach((item, index) => {
      const t = (content.items || {})[String(item.id)] || {};
      parts.push(`${index + 1}. ${item.title}`);
      if (t.discussion) parts.push(`Thảo luận: ${t.discussion}`);
      (t.opinions || []).forEach((op) => parts.push(`- ${op.name || ""}: ${op.text || ""}`));
      if (t.conclusion) parts.push(`Kết luận: ${t.conclusion}`);
    });
    if (content.closing) parts.push(content.closing);
    return parts.join("\n");
  }

  function setRevision(n) {
    revision = n;
    app.querySelectorAll("[data-revision]").forEach((el) => { el.textContent = String(n); });
    const closeRev = app.querySelector("[data-close-revision]");
    if (closeRev) closeRev.value = String(n);
  }

  async function save(base) {
    if (saving) { dirty = true; return; }
    saving = true; dirty = false;
    say(app.dataset.msgSaving);
    const mine = collect();
    try {
      const response = await fetch(`/minutes/${boot.minutes_id}/save`, {
        method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
        body: JSON.stringify({ base_revision: base === undefined ? revision : base, content: mine }),
      });
      const data = await response.json();
      if (response.status === 409) {
        showConflict(data, mine);
      } else if (response.ok) {
        setRevision(data.revision);
        say(app.dataset.msgSaved.replace("__N__", data.revision));
        hideConflict();
      } else {
        say(data.message || app.dataset.msgFailed);
        dirty = true;
      }
    } catch (error) {
      say(app.dataset.msgFailed);
      dirty = true;
    } finally {
      saving = false;
      if (dirty && !conflictOpen()) schedule();
    }
  }

  const conflict = app.querySelector("[data-conflict]");
  let theirs = null;
  const conflictOpen = () => conflict && !conflict.hidden;
  function showConflict(data, mine) {
    theirs = data;
    conflict.hidden = false;
    conflict.querySelector("[data-conflict-message]").textContent = data.message;
    conflict.querySelector("[data-their-rev]").textContent = String(data.revision);
    conflict.querySelector("[data-their-by]").textContent = data.by || "";
    conflict.querySelector("[data-theirs]").textContent = plain(data.content);
    conflict.querySelector("[data-yours]").textContent = plain(mine);
    say(data.message);
  }
  function hideConflict() { if (conflict) conflict.hidden = true; theirs = null; }
  if (conflict) {
    conflict.querySelector("[data-keep-mine]").addEventListener("click", () => {
      if (theirs) { const base = theirs.revision; hideConflict(); save(base); }
    });
    conflict.querySelector("[data-take-theirs]").addEventListener("click", () => {
      if (theirs) { fill(theirs.content); setRevision(theirs.revision); hideConflict(); say(app.dataset.msgSaved.replace("__N__", revision)); }
    });
  }

  function schedule() { clearTimeout(timer); timer = setTimeout(() => save(), 1200); }
  function changed() { dirty = true; if (!conflictOpen()) schedule(); }

  if (boot.editable) {
    fill(boot.content);
    app.querySelectorAll("[data-field]").forEach((el) => el.addEventListener("input", changed));
    app.querySelectorAll("[data-add-opinion]").forEach((button) => {
      button.addEventListener("click", () => {
        const section = button.closest("[data-item]");
        const itemId = Number(section.dataset.item);
        const first = speechesFor(itemId)[0];
        section.querySelector("[data-opinions]").appendChild(opinionRow(itemId, { speech_id: first ? first.id : null, text: "" }));
        changed();
      });
    });
    window.addEventListener("beforeunload", (event) => { if (dirty) { event.preventDefault(); } });
  }

  function show(content) {
    const put = (el, value) => { if (el) el.textContent = value || ""; };
    put(app.querySelector('[data-show="opening"]'), content.opening);
    put(app.querySelector('[data-show="closing"]'), content.closing);
    app.querySelectorAll("[data-item]").forEach((section) => {
      const t = (content.items || {})[section.dataset.item] || {};
      put(section.querySelector('[data-show="discussion"]'), t.discussion);
      put(section.querySelector('[data-show="conclusion"]'), t.conclusion);
      const list = section.querySelector("[data-show-opinions]");
      if (list) {
        list.replaceChildren(...(t.opinions || []).map((op) => {
          const li = document.createElement("li");
          const who = document.createElement("strong");
          who.textContent = op.name || "";
          li.append(who, document.createTextNode(": " + (op.text || "")));
          return li;
        }));
      }
    });
  }

  async function resync() {
    const response = await fetch(`/minutes/${boot.minutes_id}/state.json`, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const data = await response.json();
    if (!boot.editable) { show(data.content); setRevision(data.revision); }
  }

  if (window.LienThong) {
    window.LienThong.follow(`meeting-${boot.meeting_id}`, (event) => {
      if (event.kind === "resync") { resync(); return; }
      const data = event.data || {};
      if (data.minutes_id !== boot.minutes_id) return;
      if (event.kind === "minutes" && data.revision > revision) {
        if (!boot.editable) {
          show(data.content); setRevision(data.revision);
        } else if (!dirty && !saving) {
          fill(data.content); setRevision(data.revision);
        }
        say(app.dataset.msgLive.replace("__W__", data.by || "").replace("__N__", data.revision));
      } else if (event.kind === "minutes.status" || event.kind === "minutes.tasks") {
        if (leaving) return;
        if (dirty || filling) {
          const notice = app.querySelector("[data-changed-notice]");
          if (notice) { notice.textContent = app.dataset.msgChanged; notice.hidden = false; }
          return;
        }
        window.setTimeout(() => { if (!leaving && !filling) window.location.reload(); }, 300);
      }
    });
  }
})();
