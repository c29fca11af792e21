// A person, looked up by reference or id number (every read is audited): colour and
// reasons, history as believed and as shown, events, appeals.
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
  words,
} from "./staff-common.js";

const TEXT = {
  zh: {
    title: "查询人员",
    lookup: "人员编号（p_…）或身份证号",
    lookup_hint: "每次查询都会记入审计日志。区工作人员只能查询本区人员及申诉转到本区的人员。",
    find: "查询",
    color_now: "当前颜色",
    reasons: "原因",
    no_reasons: "没有任何限制。",
    believed: "颜色历史（现在认定的）",
    shown: "颜色历史（当时显示的）",
    events: "记录",
    no_events: "没有记录。",
    appeals: "申诉",
    no_appeals: "没有您可以查看的申诉。",
    voided: (by) => `已作废（${by}）`,
    sender: "发送方",
    not_found: "找不到此人，或者您无权查看。",
  },
  en: {
    title: "Look up a person",
    lookup: "Person reference (p_…) or id number",
    lookup_hint: "Every look-up is written to the audit log. District staff find people of their district and people whose appeal was routed to it.",
    find: "Look up",
    color_now: "Colour now",
    reasons: "Reasons",
    no_reasons: "Nothing holds the code.",
    believed: "History (as now believed)",
    shown: "History (as shown at the time)",
    events: "Records",
    no_events: "No records.",
    appeals: "Appeals",
    no_appeals: "No appeals you may see.",
    voided: (by) => `voided (${by})`,
    sender: "sent by",
    not_found: "No such person, or not one you may see.",
  },
};

const parts = location.pathname.split("/").filter(Boolean);
const personRef = parts.length > 2 ? decodeURIComponent(parts[2]) : null;

function lookupForm() {
  const result = h("p", { role: "status", class: "result", id: "lookup-result" });
  const input = h("input", { id: "lookup", name: "q", required: true, autocomplete: "off", spellcheck: "false", value: personRef || "" });
  const form = h(
    "form",
    { id: "lookup-form", class: "card row" },
    h("div", {}, h("label", { for: "lookup" }, t("lookup")), input, h("p", { class: "hint" }, t("lookup_hint"))),
    h("button", { type: "submit" }, t("find")),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (q.startsWith("p_")) {
      location.assign(`/staff/persons/${encodeURIComponent(q)}`);
      return;
    }
    const answer = await api("/v1/persons/lookup", { method: "POST", body: { id_number: q } });
    if (answer.ok) location.assign(`/staff/persons/${encodeURIComponent(answer.data.person_ref)}`);
    else result.textContent = answer.detail;
  });
  return form;
}

async function render(main) {
  if (!personRef) {
    main.replaceChildren(h("h1", {}, t("title")), lookupForm());
    main.querySelector("#lookup").focus();
    return;
  }
  const ref = encodeURIComponent(personRef);
  const status = await api(`/v1/persons/${ref}/status`);
  if (!status.ok) {
    notFound(main, status.status === 404 ? t("not_found") : status.detail);
    main.prepend(lookupForm());
    return;
  }
  const [believed, shown, events, appeals] = await Promise.all([
    api(`/v1/persons/${ref}/history`),
    api(`/v1/persons/${ref}/history?as_shown=true`),
    api(`/v1/persons/${ref}/events`),
    api(`/v1/persons/${ref}/appeals`),
  ]);
  const s = status.data;
  const eventList = events.ok ? events.data.events : [];
  const appealList = appeals.ok ? appeals.data.appeals : [];
  main.replaceChildren(
    h("h1", {}, personRef),
    lookupForm(),
    h(
      "div",
      { class: "columns" },
      h(
        "div",
        {},
        h(
          "section",
          { class: "card", id: "status" },
          h("h2", {}, t("color_now")),
          h("p", { class: "big", id: "color", dataset: { color: s.color } }, colorBadge(s.color), ` · ${time(s.since)}`),
          h("h3", {}, t("reasons")),
          s.reasons.length ? reasonList(s.reasons, "reasons") : h("p", { class: "hint" }, t("no_reasons")),
        ),
        h(
          "section",
          { class: "card" },
          h("h2", {}, t("appeals")),
          appealList.length
            ? h(
                "ul",
                { id: "appeals" },
                appealList.map((a) =>
                  h(
                    "li",
                    {},
                    h("a", { href: `/staff/appeals/${encodeURIComponent(a.appeal_id)}` }, a.appeal_id),
                    ` · ${words("status", a.status)} · ${words("categories", a.category)} · ${districtName(a.district)} · ${time(a.filed_at)}`,
                  ),
                ),
              )
            : h("p", { class: "hint" }, t("no_appeals")),
        ),
        h(
          "section",
          { class: "card" },
          h("h2", {}, t("events")),
          eventList.length
            ? h(
                "ol",
                { class: "events", id: "events" },
                eventList.map((e) =>
                  h(
                    "li",
                    { class: e.voided_by ? "voided" : null, dataset: { event: e.event_id } },
                    h("strong", {}, words("kinds", e.kind)),
                    ` ${time(e.occurred_at)} · ${Object.entries(e.data).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`).join(" · ")} · ${t("sender")} ${e.sender}`,
                    e.voided_by ? h("span", { class: "late" }, ` · ${t("voided", e.voided_for ? `appeal ${e.voided_for}` : e.voided_by.slice(0, 8))}`) : "",
                  ),
                ),
              )
            : h("p", { class: "hint" }, t("no_events")),
        ),
      ),
      h(
        "div",
        {},
        h("section", { class: "card" }, h("h2", {}, t("believed")), historyList(believed.ok ? believed.data.intervals : [], "history-believed")),
        h("section", { class: "card" }, h("h2", {}, t("shown")), historyList(shown.ok ? shown.data.intervals : [], "history-shown")),
      ),
    ),
  );
}

start({ text: TEXT, render });
