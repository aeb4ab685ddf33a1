// The live meeting pages (room, chair console, projector). State comes from a snapshot, then
// from the meeting channel's events in sequence order; an event seen twice is ignored, so nothing
// is missed or doubled. The room and the console follow the channel on the page's one socket
// (app.js: from the number the page was rendered at, and a reconnect after the last number seen);
// events that come before the snapshot wait for it. The projector, which has no
// session, has a socket of its own and reloads the snapshot when the meeting changes.
(() => {
  const root = document.getElementById("mt-live");
  if (!root) return;
  const L = JSON.parse(document.getElementById("mt-labels").textContent);
  const t = (key) => L[key] || key;
  const view = root.dataset.view;
  const mid = root.dataset.meeting;
  const token = root.dataset.token;
  const me = Number(root.dataset.me || 0);
  const isChair = root.dataset.chair === "1";
  const isSecretary = root.dataset.secretary === "1";
  const stateUrl = view === "projector" ? `/meetings/screen/${token}/state.json` : `/meetings/${mid}/state.json`;
  let state = null, lastSeq = 0, offset = 0, socket = null, retry = 500, timer = null, refreshTimer = null;
  let waiting = null, loads = 0; // events that came while the snapshot was loading: applied after it, in order
  window.meetingLive = { events: [], get state() { return state; }, get lastSeq() { return lastSeq; } };

  const $ = (sel) => root.querySelector(sel);
  const $$ = (sel) => Array.from(root.querySelectorAll(sel));
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (v === null || v === undefined || v === false) return;
      if (k === "class") node.className = v; else if (k.startsWith("data-") || k === "type" || k === "href" || k === "aria-label" || k === "title") node.setAttribute(k, v);
      else node[k] = v;
    });
    children.flat().forEach((c) => { if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c)); });
    return node;
  }
  const now = () => Date.now() + offset;
  const mmss = (ms) => { const s = Math.max(0, Math.floor(ms / 1000)); return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`; };
  const statusLabel = { draft: "meeting.status.draft", scheduled: "meeting.status.scheduled", open: "meeting.status.open", closed: "meeting.status.closed", cancelled: "meeting.status.cancelled" };
  const thresholdLabel = {
    majority_present: "meeting.threshold.majority_present", two_thirds_present: "meeting.threshold.two_thirds_present",
    majority_members: "meeting.threshold.majority_members", two_thirds_members: "meeting.threshold.two_thirds_members",
  };
  const visLabel = { open: "meeting.poll.open", named: "meeting.poll.named", secret: "meeting.poll.secret" };
  const optionLabel = (o) => (o.key ? t(`meeting.vote.${o.key}`) : o.label);

  function showError(message) {
    const box = $("[data-error]");
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }
  function conn(text, ok) {
    $$("[data-conn]").forEach((n) => { n.textContent = text; n.className = "conn " + (ok ? "ok" : "lost"); });
  }

  async function post(action, body) {
    showError("");
    const response = await fetch(`/meetings/${mid}/live/${action}`, {
      method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json", "x-csrf-token": root.dataset.csrf },
      body: JSON.stringify(body || {}),
    });
    if (!response.ok) {
      let message = response.statusText;
      try { message = (await response.json()).message || message; } catch (e) { /* not JSON */ }
      showError(message);
      return false;
    }
    return true;
  }

  // --- applying events ------------------------------------------------------------------------
  function apply(event) {
    const data = event.data || {};
    if (data.now) offset = Date.parse(data.now) - Date.now();
    if (event.kind === "agenda") state.agenda = data;
    else if (event.kind === "speakers") state.speakers = data;
    else if (event.kind === "status") Object.assign(state.meeting, data);
    else if (event.kind === "poll") {
      const index = state.polls.findIndex((p) => p.id === data.id);
      if (index >= 0) state.polls[index] = data; else state.polls.push(data);
    } else if (event.kind === "attendance") {
      state.attendance = { quorum: data.quorum, sites: data.sites };
      if (data.participant && state.participants) {
        const index = state.participants.findIndex((p) => p.id === data.participant.id);
        if (index >= 0) state.participants[index] = data.participant; else state.participants.push(data.participant);
        if (data.participant.user_id === me) state.me.participant = data.participant;
      }
    }
    render();
  }

  async function load() {
    const mine = ++loads;
    waiting = waiting || [];
    const response = await fetch(stateUrl, { credentials: "same-origin", headers: { accept: "application/json" } });
    if (mine !== loads) return; // a later load is on its way: it applies what waits
    if (!response.ok) { showError(response.statusText); return; }
    const snapshot = await response.json();
    if (mine !== loads) return;
    state = snapshot;
    lastSeq = state.seq;
    offset = Date.parse(state.now) - Date.now();
    const early = waiting;
    waiting = null;
    early.forEach(receive);
    render();
  }

  function receive(event) {
    if (event.kind === "resync") { load(); return; } // too far behind: a new snapshot
    if (waiting) { waiting.push(event); return; }
    if (typeof event.seq !== "number" || event.seq <= lastSeq) return; // seen already: exactly once
    lastSeq = event.seq;
    window.meetingLive.events.push(event.seq);
    apply(event);
  }

  function follow() {
    let lost = false;
    document.addEventListener("lienthong:disconnected", () => { lost = true; conn(t("Connection lost, reconnecting…"), false); });
    document.addEventListener("lienthong:connected", () => {
      if (!lost) return;
      lost = false;
      conn(t("Connected again."), true);
      setTimeout(() => conn("", true), 1500);
    });
    window.LienThong.follow(`meeting-${mid}`, receive);
  }

  function connectProjector() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${proto}://${location.host}/meetings/screen/${token}/ws`);
    socket.onopen = () => { retry = 500; conn(t("Connected again."), true); setTimeout(() => conn("", true), 1500); };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.kind === "hello") return;
      if (event.kind === "resync") { socket.onclose = null; socket.close(); load().then(connectProjector); return; }
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(load, 150); // it follows pings, not events
    };
    socket.onclose = () => {
      conn(t("Connection lost, reconnecting…"), false);
      clearTimeout(timer);
      timer = setTimeout(() => load().then(connectProjector), retry); // a new snapshot after a drop
      retry = Math.min(retry * 2, 10000);
    };
  }

  // --- rendering --------------------------------------------------------------------------------
  function bind(name, ...children) {
    $$(`[data-bind="${name}"]`).forEach((node) => { node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined)); });
  }
  function showIf(name, yes) { $$(`[data-bind-show="${name}"]`).forEach((n) => { n.hidden = !yes; }); }
  function list(name, items) { $$(`[data-list="${name}"]`).forEach((n) => n.replaceChildren(...items)); }

  function currentItem() {
    return (state.agenda.items || []).find((i) => i.id === state.agenda.current_item_id) || null;
  }

  function render() {
    if (!state) return;
    const status = state.meeting.status;
    const open = status === "open";
    bind("status", t(statusLabel[status] || status));
    const cur = currentItem();
    bind("current", cur ? `${cur.position}. ${cur.title}` : (status === "closed" ? t("The meeting is closed.") : status === "cancelled" ? t("The meeting has been cancelled.") : t("Not started yet.")));
    bind("status-line", t(statusLabel[status] || status));
    $$("[data-when]").forEach((b) => { b.hidden = b.dataset.when !== status; });
    renderAgenda(open);
    renderAttendance(open);
    renderSpeakers(open);
    renderPolls(open);
    tick();
  }

  function renderAgenda(open) {
    const items = state.agenda.items || [];
    list("agenda", items.map((item, index) => {
      const controls = [];
      if (isChair && open && view !== "projector") {
        if (item.status !== "running") controls.push(el("button", { class: "small", "data-act": "start-item", "data-id": item.id }, t("Start")));
        else controls.push(el("button", { class: "small", "data-act": "end-item", "data-id": item.id }, t("End")));
        if (index > 0) controls.push(el("button", { class: "small", "data-act": "move-item", "data-id": item.id, "data-dir": "up", "aria-label": t("Up") }, "↑"));
        if (index < items.length - 1) controls.push(el("button", { class: "small", "data-act": "move-item", "data-id": item.id, "data-dir": "down", "aria-label": t("Down") }, "↓"));
      }
      const label = item.status === "running" ? t("Running") : item.status === "done" ? t("Done") : t("Not started");
      return el("li", { class: `it-${item.status}`, "data-item": item.id },
        el("span", { class: "grow" }, el("strong", {}, item.title), item.presenter ? ` — ${item.presenter}` : "",
          el("span", { class: "muted small" }, ` (${item.planned_minutes} ${t("min")})`)),
        el("span", { class: `badge it-badge-${item.status}` }, label), el("span", { class: "ctl" }, controls));
    }));
    $$('[data-options="items"]').forEach((select) => {
      const keep = select.value;
      select.replaceChildren(el("option", { value: "" }, t("Current item")), ...items.map((i) => el("option", { value: String(i.id) }, `${i.position}. ${i.title}`)));
      select.value = keep;
    });
  }

  function renderAttendance(open) {
    const q = state.attendance.quorum;
    bind("quorum", el("span", { class: q.met ? "q-ok" : "q-no" }, q.met ? `✔ ${t("Quorum reached")}` : `✖ ${t("No quorum yet")}`),
      ` — ${q.voting_present}/${q.members} ${t("voting members")}, ${t("needed")} ${q.needed} (${t("present of")} ${q.participants}: ${q.present})`);
    if (view === "projector" || !state.me) return;
    const mine = state.me.participant;
    const checkedIn = mine && mine.attendance === "present";
    bind("my-attendance", checkedIn ? el("span", { class: "ok-box" }, t("You are checked in.")) : "");
    showIf("can-checkin", !!mine && !checkedIn && (state.meeting.status === "open" || state.meeting.status === "scheduled"));
    const manage = (isChair || isSecretary) && view === "console" && state.meeting.status !== "cancelled";
    list("sites", (state.attendance.sites || []).map((s) => el("li", {},
      el("strong", {}, s.name), ` — ${s.present}/${s.attendees} ${t("attendees")} · `,
      el("span", { class: s.site_present ? "q-ok" : "q-no" }, s.site_present ? t("Site connected") : t("Site not connected")),
      manage ? el("button", { class: "small", "data-act": "site", "data-id": s.id, "data-present": s.site_present ? "0" : "1" }, s.site_present ? t("Site not connected") : t("Site connected")) : "")));
    const everyone = state.participants || [];
    const byId = Object.fromEntries(everyone.map((p) => [p.id, p]));
    const hhmm = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "");
    list("people", everyone.map((p) => el("li", { class: `pp-${p.attendance}`, "data-participant": p.id },
      el("span", { class: "grow" }, el("strong", {}, p.name), el("span", { class: "muted small" }, ` ${t(`meeting.role.${p.role}`)} · ${p.org}`),
        p.substitute_for_id ? el("span", { class: "small sub-line" }, ` · ${t("in place of")} ${(byId[p.substitute_for_id] || {}).name || ""} (${t("authorisation")}: ${p.authorisation})`) : "",
        p.checked_in_at ? el("span", { class: "muted small" }, ` · ${t("arrived")} ${hhmm(p.checked_in_at)}`) : "",
        p.left_at ? el("span", { class: "muted small" }, ` · ${t("left")} ${hhmm(p.left_at)}`) : ""),
      el("span", { class: `badge at-${p.attendance}` }, p.attendance === "present" ? `${t("Present")} (${p.in_room ? t("in the room") : t("online")})` : p.left_at ? t("Left") : t("Absent")),
      manage ? el("button", { class: "small", "data-act": "mark", "data-id": p.id, "data-present": p.attendance === "present" ? "0" : "1" },
        p.attendance === "present" ? t("Mark absent") : t("Mark present")) : "")));
    // Seats a substitute may take: invited members (not chair, secretary, guests) not present.
    const taken = new Set(everyone.filter((p) => p.substitute_for_id).map((p) => p.substitute_for_id));
    const seats = everyone.filter((p) => p.role === "member" && !p.substitute_for_id && p.attendance !== "present" && !taken.has(p.id));
    $$('[data-options="seats"]').forEach((select) => {
      const keep = select.value;
      select.replaceChildren(...seats.map((p) => el("option", { value: String(p.id) }, `${p.name} — ${p.org}`)));
      select.value = keep;
    });
    showIf("can-substitute", manage && seats.length > 0 && (state.meeting.status === "open" || state.meeting.status === "scheduled"));
  }

  function renderSpeakers(open) {
    const sp = state.speakers;
    if (sp.speaking) {
      bind("speaking", el("p", { class: "speaker-now" }, el("strong", {}, sp.speaking.name), el("span", { class: "muted" }, ` — ${sp.speaking.org}`),
        sp.speaking.agenda_item ? el("span", { class: "small" }, ` · ${sp.speaking.agenda_item}`) : ""),
        el("p", { class: "mt-timer" }, el("span", { "data-speak-timer": sp.speaking.granted_at }, "00:00"), ` ${t("Speaking time")}`),
        isChair && view !== "projector" ? el("button", { class: "small", "data-act": "end-floor", "data-id": sp.speaking.id }, t("End the floor")) : "");
    } else {
      bind("speaking", el("p", { class: "empty" }, t("Nobody is speaking.")));
    }
    const queue = sp.queue || [];
    list("queue", queue.length ? queue.map((r) => el("li", { "data-request": r.id },
      el("span", { class: "grow" }, el("strong", {}, r.name), el("span", { class: "muted small" }, ` ${r.org}${r.agenda_item ? " · " + r.agenda_item : ""}${r.note ? " · " + r.note : ""}`)),
      isChair && open && view !== "projector" ? el("button", { class: "small primary", "data-act": "grant", "data-id": r.id }, t("Give the floor")) : "",
      r.user_id === me && view !== "projector" ? el("button", { class: "small", "data-act": "withdraw", "data-id": r.id }, t("Withdraw")) : ""))
      : [el("li", { class: "empty" }, t("Nobody has asked to speak."))]);
    const active = sp.speaking && sp.speaking.user_id === me || queue.some((r) => r.user_id === me);
    showIf("can-request", open && !!(state.me && state.me.participant) && !active);
  }

  function resultView(poll, big) {
    const r = poll.result || {};
    const total = Math.max(1, r.present || 0);
    return el("div", { class: "poll-result" },
      el("p", {}, el("strong", {}, poll.question)),
      el("p", { class: r.passed ? "q-ok big-result" : "q-no big-result" }, r.passed ? `✔ ${t("Passed")}` : `✖ ${t("Not passed")}`),
      el("ul", { class: "plain bars" }, poll.options.map((o) => el("li", {},
        el("span", { class: "bar-label" }, `${optionLabel(o)}: ${o.votes} ${t("votes")}`),
        el("span", { class: "bar" }, el("span", { class: "fill" }))))),
      el("p", { class: "muted small rule-line" }, `${t(visLabel[poll.visibility])} · ${t(thresholdLabel[poll.threshold])} · ${t("Counted against")} ${r.base} · ${r.needed} ${t("needed to pass")} · ${r.voted}/${r.present} ${t("voted")}`),
      overrideLine(poll),
      poll.named ? el("ul", { class: "plain small named" }, poll.named.map((n) => el("li", {}, `${n.name}: ${n.choice}`))) : "",
      !big && view !== "projector" ? el("a", { href: `/meetings/${mid}/polls/${poll.id}.csv`, class: "small" }, t("Export CSV")) : "");
  }

  function overrideLine(poll) {
    if (!poll.override_reason) return "";
    return el("p", { class: "override-line" }, `⚠ ${t("Opened without quorum")} (${poll.present_at_open}/${poll.members_at_open}) — ${t("Reason")}: ${poll.override_reason}`);
  }

  function sizeBars() {
    $$(".poll-result").forEach((box) => {
      const items = Array.from(box.querySelectorAll(".bars li"));
      const votes = items.map((li) => Number((li.querySelector(".bar-label").textContent.match(/: (\d+)/) || [0, 0])[1]));
      const max = Math.max(1, ...votes);
      items.forEach((li, i) => { li.querySelector(".fill").style.width = `${(votes[i] * 100) / max}%`; });
    });
  }

  function renderPolls(open) {
    const polls = state.polls || [];
    const current = polls.find((p) => p.status === "open");
    const q = state.attendance.quorum;
    if (current) {
      const mine = state.me && state.me.votes ? state.me.votes[String(current.id)] : null;
      const participant = state.me && state.me.participant;
      const canVote = participant && participant.voting && participant.attendance === "present" && view !== "projector";
      const changeable = current.allow_change && current.visibility !== "secret";
      const chosen = mine && mine.option_id ? current.options.find((o) => o.id === mine.option_id) : null;
      const buttons = canVote && (!mine || changeable)
        ? el("div", { class: "row wrap vote-buttons" }, current.options.map((o) => el("button", {
            class: "vote-btn" + (chosen && chosen.id === o.id ? " chosen" : ""), "data-act": "vote", "data-poll": current.id, "data-id": o.id }, optionLabel(o))))
        : "";
      bind("poll", el("div", { class: "poll-open" },
        el("p", { class: "badge live" }, t("Vote open")),
        el("p", { class: "poll-q" }, el("strong", {}, current.question)),
        el("p", { class: "muted small rule-line" }, `${t(visLabel[current.visibility])} · ${t(thresholdLabel[current.threshold])} · ${t("Abstentions and members who do not vote count as not in favour.")}`),
        overrideLine(current),
        el("p", { class: "turnout" }, `${current.turnout}/${q.voting_present} ${t("voted")}`),
        buttons,
        mine ? el("p", { class: "ok-box" }, chosen ? `${t("You voted")}: ${optionLabel(chosen)}` : t("Your vote is recorded (secret ballot).")) : "",
        !canVote && participant && view !== "projector" && !mine
          ? el("p", { class: "muted" }, participant.voting ? t("Check in to vote.") : t("You attend without a vote.")) : "",
        isChair && view !== "projector" ? el("button", { class: "danger", "data-act": "close-poll", "data-id": current.id, "data-confirm-key": "Close the vote? The result is final." }, t("Close the vote")) : ""));
    } else if (view === "projector") {
      const last = polls.filter((p) => p.status === "closed").slice(-1)[0];
      bind("poll", last ? resultView(last, true) : "");
    } else {
      bind("poll", el("p", { class: "empty" }, t("No vote is open.")));
    }
    showIf("can-open-poll", open && !current);
    showIf("no-quorum", !q.met);
    list("results", polls.filter((p) => p.status === "closed").reverse().map((p) => el("li", {}, resultView(p, false))));
    sizeBars();
  }

  function tick() {
    if (!state) return;
    const cur = currentItem();
    const timerNodes = $$('[data-bind="item-timer"]');
    if (cur && cur.status === "running" && cur.started_at) {
      const elapsed = now() - Date.parse(cur.started_at);
      const over = elapsed > cur.planned_minutes * 60000;
      timerNodes.forEach((n) => { n.textContent = mmss(elapsed); n.className = over ? "over" : ""; });
      bind("item-planned", `/ ${cur.planned_minutes}:00 ${over ? t("over time") : t("planned")}`);
    } else {
      timerNodes.forEach((n) => { n.textContent = "--:--"; n.className = ""; });
      bind("item-planned", "");
    }
    $$("[data-speak-timer]").forEach((n) => { n.textContent = mmss(now() - Date.parse(n.dataset.speakTimer)); });
    const clock = new Date(now());
    bind("clock", `${String(clock.getHours()).padStart(2, "0")}:${String(clock.getMinutes()).padStart(2, "0")}`);
  }

  // --- actions -----------------------------------------------------------------------------------
  root.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-act]");
    if (!button || !root.contains(button)) return;
    event.preventDefault();
    if (button.dataset.confirmKey && !window.confirm(t(button.dataset.confirmKey))) return;
    const id = Number(button.dataset.id || 0);
    const act = button.dataset.act;
    const bodies = {
      "start-item": { item_id: id }, "end-item": { item_id: id }, "move-item": { item_id: id, direction: button.dataset.dir },
      grant: { request_id: id }, "end-floor": { request_id: id }, withdraw: { request_id: id },
      "close-poll": { poll_id: id }, vote: { poll_id: Number(button.dataset.poll), option_id: id },
      mark: { participant_id: id, present: button.dataset.present === "1" }, site: { unit_id: id, present: button.dataset.present === "1" },
    };
    button.disabled = true;
    const ok = await post(act, bodies[act] || {});
    button.disabled = false;
    if (ok && act === "vote" && state) {
      const poll = state.polls.find((p) => p.id === Number(button.dataset.poll));
      state.me.votes[String(poll.id)] = { voted: true, option_id: poll.visibility === "secret" ? null : id };
      render();
    }
  });
  root.addEventListener("submit", async (event) => {
    const form = event.target.closest("[data-form]");
    if (!form) return;
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    const kind = form.dataset.form;
    let body = data;
    if (kind === "open-poll") {
      body = { ...data, allow_change: !!data.allow_change, options: (data.options || "").split("\n").map((s) => s.trim()).filter(Boolean) };
      if (!body.options.length) delete body.options;
    }
    if (kind === "substitute") body = { ...data, participant_id: Number(data.participant_id), user_id: Number(data.user_id) };
    if (await post(kind, body)) { form.reset(); const details = form.closest("details"); if (details) details.open = false; }
  });

  setInterval(tick, 1000);
  if (view === "projector") load().then(connectProjector);
  else {
    load();
    // After app.js's own follow (the user's channel), in the same dispatch: one connect for both.
    document.addEventListener("DOMContentLoaded", follow);
  }
})();
