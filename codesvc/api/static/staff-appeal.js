// One appeal: the citizen's words and evidence, the disputed event, the person's colour,
// reasons and history, notes, and only the actions the appeal machine allows now. A
// decision is previewed first (a dry run by the same engine) and then confirmed.
import {
  api,
  colorBadge,
  districtName,
  h,
  historyList,
  notFound,
  reasonList,
  start,
  t,
  time,
  timeLeft,
  words,
} from "./staff-common.js";
import { TEXT } from "./staff-appeal-words.js";

const appealId = decodeURIComponent(location.pathname.split("/").pop());

function dl(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
  );
}

function describeData(data) {
  return Object.entries(data)
    .filter(([k]) => k !== "reporting_district")
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`)
    .join(" · ");
}

function eventLine(e) {
  return [
    h("strong", {}, words("kinds", e.kind)),
    ` ${time(e.occurred_at)} · ${describeData(e.data)} · ${t("sender")}: ${e.sender}`,
    e.data.reporting_district ? ` · ${t("reported_by")}: ${districtName(e.data.reporting_district)}` : "",
    e.voided_by ? h("span", { class: "late" }, ` · ${t("voided", e.voided_for ? `appeal ${e.voided_for}` : e.voided_by.slice(0, 8))}`) : "",
  ];
}

function disputedSection(appeal, events) {
  const e = events.find((x) => x.event_id === appeal.disputed_event_id);
  return h(
    "section",
    { class: "card", id: "disputed", "aria-labelledby": "disputed-title" },
    h("h2", { id: "disputed-title" }, t("disputed")),
    e
      ? dl([
          [t("category"), words("kinds", e.kind)],
          [t("occurred"), time(e.occurred_at)],
          [t("sender"), e.sender],
          [t("received"), time(e.received_at)],
          [t("reported_by"), e.data.reporting_district ? districtName(e.data.reporting_district) : null],
          ["", describeData(e.data)],
        ])
      : h("p", { class: "hint" }, appeal.disputed_event_id || t("no_disputed")),
  );
}

function notesSection(appeal, reload) {
  const text = h("textarea", { id: "note-text", rows: "3", maxlength: "2000", required: true });
  const visibility = h(
    "fieldset",
    {},
    h("legend", {}, t("note_visibility")),
    h("label", {}, h("input", { type: "radio", name: "visibility", value: "internal", checked: true }), ` ${t("internal")}`),
    h("label", {}, h("input", { type: "radio", name: "visibility", value: "citizen" }), ` ${t("for_citizen")}`),
  );
  const result = h("p", { role: "status", class: "result" });
  const form = h(
    "form",
    { id: "note-form" },
    h("label", { for: "note-text" }, t("note_text")),
    text,
    visibility,
    h("button", { type: "submit" }, t("add_note")),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await api(`/v1/appeals/${encodeURIComponent(appeal.appeal_id)}/notes`, {
      method: "POST",
      body: { text: text.value, visibility: form.visibility.value },
      retry: `note:${appeal.appeal_id}`,
    });
    if (answer.ok) reload();
    else result.textContent = answer.detail;
  });
  const open = !["corrected", "upheld", "withdrawn"].includes(appeal.status);
  return h(
    "section",
    { class: "card", "aria-labelledby": "notes-title" },
    h("h2", { id: "notes-title" }, t("notes")),
    appeal.notes.length
      ? h(
          "ol",
          { class: "notes", id: "notes" },
          appeal.notes.map((n) =>
            h("li", { dataset: { visibility: n.visibility } }, `${time(n.at)} · ${n.author || n.by} · ${n.visibility === "citizen" ? t("for_citizen") : t("internal")}: ${n.text}`),
          ),
        )
      : h("p", { class: "hint" }, t("no_notes")),
    open ? form : "",
  );
}

function personSection(status, believed, shown, events) {
  return h(
    "section",
    { class: "card", id: "person", "aria-labelledby": "person-title" },
    h("h2", { id: "person-title" }, t("person_now")),
    status
      ? h("p", { class: "big", id: "person-color", dataset: { color: status.color } }, colorBadge(status.color))
      : "",
    h("h3", {}, t("reasons")),
    status && status.reasons.length ? reasonList(status.reasons, "person-reasons") : h("p", { class: "hint" }, t("no_reasons")),
    h("h3", {}, t("believed")),
    historyList(believed, "history-believed"),
    h("h3", {}, t("shown")),
    historyList(shown, "history-shown"),
    h("h3", {}, t("events")),
    h(
      "ol",
      { class: "events", id: "events" },
      events.map((e) => h("li", { class: e.voided_by ? "voided" : null, dataset: { event: e.event_id } }, eventLine(e))),
    ),
  );
}

function cityTime(localValue) {
  // A datetime-local value read as Shanghai time, whatever the device's zone.
  return localValue ? `${localValue}:00+08:00` : null;
}

function decideSection(appeal, events, reload) {
  const voidable = events.filter((e) => !["correction", "override"].includes(e.kind) && !e.voided_by);
  const outcome = h(
    "fieldset",
    {},
    h("legend", {}, t("outcome")),
    h("label", {}, h("input", { type: "radio", name: "outcome", value: "corrected", checked: true }), ` ${t("corrected")}`),
    h("label", {}, h("input", { type: "radio", name: "outcome", value: "upheld" }), ` ${t("upheld")}`),
  );
  const voids = h(
    "fieldset",
    { id: "voids" },
    h("legend", {}, t("void")),
    voidable.map((e) =>
      h(
        "label",
        {},
        h("input", { type: "checkbox", name: "void", value: e.event_id, dataset: { event: e.event_id } }),
        " ",
        eventLine(e),
      ),
    ),
  );
  const eventId = crypto.randomUUID();
  const adding = h("input", { type: "checkbox", id: "add-test", name: "add_test" });
  const added = h(
    "fieldset",
    { id: "add-test-fields" },
    h("legend", {}, h("label", { for: "add-test" }, adding, ` ${t("add_test_toggle")}`)),
    h("label", { for: "add-sampled" }, t("sampled_at")),
    h("input", { type: "datetime-local", id: "add-sampled", name: "sampled" }),
    h("label", { for: "add-result" }, t("result")),
    h("select", { id: "add-result", name: "result" }, h("option", { value: "negative" }, t("negative")), h("option", { value: "positive" }, t("positive"))),
    h("label", { for: "add-lab" }, t("lab")),
    h("input", { id: "add-lab", name: "lab", autocomplete: "off" }),
    h("label", { for: "add-sample" }, t("sample")),
    h("input", { id: "add-sample", name: "sample", autocomplete: "off" }),
  );
  const note = h("textarea", { id: "decision-note", name: "note", rows: "3", maxlength: "2000", required: true });
  const result = h("p", { role: "status", class: "result", id: "decision-result" });
  const preview = h("section", { id: "preview", class: "card preview", hidden: true, "aria-live": "polite" });
  const previewButton = h("button", { type: "button", id: "preview-button" }, t("preview"));
  const confirmButton = h("button", { type: "submit", id: "confirm-button", disabled: true }, t("confirm"));
  const form = h(
    "form",
    { id: "decide-form", novalidate: true },
    outcome,
    voids,
    added,
    h("label", { for: "decision-note" }, t("citizen_note")),
    note,
    h("div", { class: "actions" }, previewButton, confirmButton),
    result,
  );

  function body() {
    const corrected = form.outcome.value === "corrected";
    const payload = { outcome: form.outcome.value, note: note.value };
    if (corrected) {
      const add = [];
      if (adding.checked) {
        add.push({
          event_id: eventId,
          kind: "test.result",
          occurred_at: cityTime(form.sampled.value),
          data: { result: form.result.value, lab_id: form.lab.value.trim(), sample_id: form.sample.value.trim() },
        });
      }
      const voided = [...form.querySelectorAll("input[name=void]:checked")].map((x) => x.value);
      payload.corrections = { void: voided, add };
    }
    return payload;
  }

  let previewed = null;
  form.addEventListener("input", () => {
    if (previewed !== null && JSON.stringify(body()) !== previewed) {
      confirmButton.disabled = true;
      result.textContent = t("preview_stale");
    }
  });

  function problem(answer) {
    const errors = answer.problem && answer.problem.errors;
    return errors ? `${answer.detail} ${t("field_errors", Object.entries(errors).map(([k, v]) => `${k}: ${v}`).join("; "))}` : answer.detail;
  }

  previewButton.addEventListener("click", async () => {
    previewButton.disabled = true;
    result.textContent = t("previewing");
    const payload = body();
    const answer = await api(`/v1/appeals/${encodeURIComponent(appeal.appeal_id)}/preview`, {
      method: "POST",
      body: payload,
    });
    previewButton.disabled = false;
    if (!answer.ok) {
      result.textContent = problem(answer);
      preview.hidden = true;
      confirmButton.disabled = true;
      return;
    }
    const after = answer.data;
    preview.replaceChildren(
      h("h3", {}, t("preview_title")),
      after.status ? h("p", { class: "big", id: "preview-color", dataset: { color: after.status.color } }, colorBadge(after.status.color)) : "",
      after.status && after.status.reasons.length ? reasonList(after.status.reasons, "preview-reasons") : h("p", { class: "hint" }, t("no_reasons")),
      historyList(after.history.intervals, "preview-history"),
      h("p", { class: "hint" }, t("preview_hint")),
    );
    preview.hidden = false;
    previewed = JSON.stringify(payload);
    confirmButton.disabled = false;
    result.textContent = "";
    confirmButton.focus();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    confirmButton.disabled = true;
    const answer = await api(`/v1/appeals/${encodeURIComponent(appeal.appeal_id)}/resolve`, {
      method: "POST",
      body: body(),
    });
    if (!answer.ok) {
      result.textContent = problem(answer);
      return;
    }
    await reload(t("decided"));
  });

  return h(
    "section",
    { class: "card", id: "decide", "aria-labelledby": "decide-title" },
    h("h2", { id: "decide-title" }, t("decide")),
    form,
    preview,
  );
}

function escalateSection(appeal, reload) {
  const note = h("textarea", { id: "escalate-note", rows: "2", maxlength: "2000", required: true });
  const result = h("p", { role: "status", class: "result" });
  const form = h(
    "form",
    { id: "escalate-form" },
    h("label", { for: "escalate-note" }, t("escalate_note")),
    note,
    h("button", { type: "submit", class: "secondary" }, t("escalate")),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await api(`/v1/appeals/${encodeURIComponent(appeal.appeal_id)}/escalate`, {
      method: "POST",
      body: { note: note.value },
    });
    if (answer.ok) reload();
    else result.textContent = answer.detail;
  });
  return h("section", { class: "card", id: "escalate" }, h("h2", {}, t("escalate")), form);
}

async function render(main, message = "") {
  const found = await api(`/v1/appeals/${encodeURIComponent(appealId)}`);
  if (!found.ok) {
    notFound(main, found.status === 404 ? t("not_found") : found.detail);
    return;
  }
  const appeal = found.data;
  const ref = encodeURIComponent(appeal.person_ref);
  const [status, believed, shown, events] = await Promise.all([
    api(`/v1/persons/${ref}/status`),
    api(`/v1/persons/${ref}/history`),
    api(`/v1/persons/${ref}/history?as_shown=true`),
    api(`/v1/persons/${ref}/events`),
  ]);
  const reload = (text) => render(main, text);
  const left = timeLeft(appeal.due_at);
  const evidence = Object.entries(appeal.evidence);
  const actions = appeal.actions;
  const claimButton = actions.includes("claim")
    ? h("button", { type: "button", id: "claim", onclick: async () => {
        const answer = await api(`/v1/appeals/${encodeURIComponent(appeal.appeal_id)}/claim`, { method: "POST" });
        if (answer.ok) reload();
        else {
          const again = await api(`/v1/appeals/${encodeURIComponent(appeal.appeal_id)}`);
          reload(again.ok && again.data.claimed_by ? `${answer.detail} (${again.data.claimed_by})` : answer.detail);
        }
      } }, t("claim"))
    : null;
  const eventList = events.ok ? events.data.events : [];
  const left_column = h(
    "div",
    {},
    h(
      "section",
      { class: "card", id: "facts", "aria-labelledby": "facts-title" },
      h("h2", { id: "facts-title" }, t("facts")),
      dl([
        [t("state"), h("span", { id: "appeal-status", dataset: { status: appeal.status } }, words("status", appeal.status))],
        [t("category"), words("categories", appeal.category)],
        [t("appellant"), h("a", { href: `/staff/persons/${ref}` }, appeal.person_ref)],
        [t("district"), districtName(appeal.district)],
        [t("filed"), time(appeal.filed_at)],
        [t("due"), h("span", { class: left.overdue ? "late" : null }, `${time(appeal.due_at)} · ${left.text}`)],
        [t("claimed"), appeal.claimed_by],
      ]),
      h("h3", {}, t("words")),
      h("blockquote", { id: "description" }, appeal.description),
      h("h3", {}, t("evidence")),
      evidence.length ? dl(evidence.map(([k, v]) => [k, String(v)])) : h("p", { class: "hint" }, t("no_evidence")),
      appeal.outcome_note ? h("p", { id: "outcome-note" }, t("outcome_note", appeal.outcome_note)) : "",
    ),
    disputedSection(appeal, eventList),
    claimButton || !actions.length
      ? h(
          "section",
          { class: "card", id: "actions", "aria-labelledby": "actions-title" },
          h("h2", { id: "actions-title" }, t("actions")),
          claimButton || h("p", { class: "hint" }, t("no_actions")),
        )
      : "",
    actions.includes("correct") || actions.includes("uphold") ? decideSection(appeal, eventList, reload) : "",
    actions.includes("escalate") ? escalateSection(appeal, reload) : "",
    notesSection(appeal, reload),
    h(
      "section",
      { class: "card" },
      h("h2", {}, t("transitions")),
      h("ol", { class: "notes" }, appeal.transitions.map((x) => h("li", {}, `${time(x.at)} · ${x.actor || x.by} · ${x.from ? words("status", x.from) : ""} → ${words("status", x.to)}${x.why ? ` · ${x.why}` : ""}`))),
    ),
  );
  main.replaceChildren(
    h("h1", {}, t("title", appeal.appeal_id)),
    message ? h("p", { class: "alert", role: "status", id: "appeal-message" }, message) : "",
    h(
      "div",
      { class: "columns" },
      left_column,
      personSection(
        status.ok ? status.data : null,
        believed.ok ? believed.data.intervals : [],
        shown.ok ? shown.data.intervals : [],
        eventList,
      ),
    ),
  );
  document.title = `${t("title", appeal.appeal_id)} · ${t("console")}`;
}

start({ text: TEXT, render: (main) => render(main) });
