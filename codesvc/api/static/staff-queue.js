// The queue: the district's open appeals, overdue first, then by due time; claim in one
// click; the officer who loses a race is told who has the appeal.
import {
  DISTRICTS,
  api,
  districtName,
  h,
  me,
  notice,
  start,
  t,
  tableWrap,
  time,
  timeLeft,
  words,
} from "./staff-common.js";

const TEXT = {
  zh: {
    title: (where) => `申诉队列 · ${where}`,
    figures: (open, overdue, shown) => `未办结 ${open} 件，其中已超时 ${overdue} 件；按紧急程度显示前 ${shown} 件。`,
    empty: "队列里没有待办的申诉。",
    due: "时限",
    state: "状态",
    category: "类别",
    appellant: "申诉人",
    district: "负责区",
    filed: "提交时间",
    claimed: "认领人",
    act: "操作",
    claim: "认领",
    claim_label: (id) => `认领申诉 ${id}`,
    open: "打开",
    you: "您",
    nobody: "—",
    claimed_now: (id) => `已认领 ${id}，可以打开处理。`,
    lost: (id, who) => `${id} 已由 ${who} 认领。`,
    more: "显示更多",
    filter: "筛选",
    filter_district: "区",
    filter_state: "状态",
    all_open: "全部未办结",
    escalated_only: "已转交市卫健委",
    apply: "显示",
    refresh: "刷新",
  },
  en: {
    title: (where) => `Appeals queue · ${where}`,
    figures: (open, overdue, shown) =>
      `${open} open, ${overdue} of them overdue; the ${shown} most urgent are shown.`,
    empty: "No open appeals in the queue.",
    due: "Time",
    state: "State",
    category: "Category",
    appellant: "Appellant",
    district: "District",
    filed: "Filed",
    claimed: "Claimed by",
    act: "Action",
    claim: "Claim",
    claim_label: (id) => `Claim appeal ${id}`,
    open: "Open",
    you: "you",
    nobody: "—",
    claimed_now: (id) => `You claimed ${id}; open it to work on it.`,
    lost: (id, who) => `${id} is already claimed by ${who}.`,
    more: "Show more",
    filter: "Filter",
    filter_district: "District",
    filter_state: "State",
    all_open: "All open",
    escalated_only: "Escalated to the commission",
    apply: "Show",
    refresh: "Refresh",
  },
};

const params = new URLSearchParams(location.search);
let limit = 100;

function claimedBy(sub) {
  if (!sub) return t("nobody");
  return sub === me().sub ? `${sub}（${t("you")}）` : sub;
}

async function claim(appeal, row) {
  const answer = await api(`/v1/appeals/${encodeURIComponent(appeal.appeal_id)}/claim`, {
    method: "POST",
  });
  const status = row.querySelector("[role=status]");
  if (answer.ok) {
    row.replaceWith(renderRow(answer.data, t("claimed_now", appeal.appeal_id)));
    return;
  }
  if (answer.status === 409) {
    // Lost the race: read who has it now, and say so.
    const now = await api(`/v1/appeals/${encodeURIComponent(appeal.appeal_id)}`);
    const who = now.ok && now.data.claimed_by ? now.data.claimed_by : "?";
    const updated = renderRow(now.ok ? now.data : appeal, t("lost", appeal.appeal_id, who));
    row.replaceWith(updated);
    return;
  }
  status.textContent = answer.detail;
}

function renderRow(a, message = "") {
  const left = timeLeft(a.due_at);
  const commission = me().role === "commission";
  const link = h(
    "a",
    { href: `/staff/appeals/${encodeURIComponent(a.appeal_id)}` },
    `${t("open")} ${a.appeal_id}`,
  );
  const row = h(
    "tr",
    { class: a.overdue ? "overdue" : null, dataset: { appeal: a.appeal_id, status: a.status } },
    h("td", { class: left.overdue ? "late" : null }, left.text),
    h("td", { class: "short" }, words("status", a.status)),
    h("td", { class: "short" }, words("categories", a.category)),
    h("td", {}, a.person_ref),
    commission ? h("td", {}, districtName(a.district)) : null,
    h("td", {}, time(a.filed_at)),
    h("td", { class: "claimed" }, claimedBy(a.claimed_by)),
    h("td", {}, h("div", { class: "actions" }, link), h("p", { role: "status", class: "result" }, message)),
  );
  if (a.actions.includes("claim")) {
    const button = h(
      "button",
      { type: "button", dataset: { action: "claim" }, "aria-label": t("claim_label", a.appeal_id) },
      t("claim"),
    );
    button.addEventListener("click", async () => {
      button.disabled = true;
      await claim(a, row);
    });
    row.querySelector(".actions").prepend(button);
  }
  return row;
}

function filters() {
  const district = h(
    "select",
    { id: "filter-district", name: "district" },
    h("option", { value: "" }, t("whole_city")),
    Object.keys(DISTRICTS).map((code) =>
      h("option", { value: code, selected: params.get("district") === code }, districtName(code)),
    ),
  );
  const state = h(
    "select",
    { id: "filter-state", name: "status" },
    h("option", { value: "" }, t("all_open")),
    h("option", { value: "escalated", selected: params.get("status") === "escalated" }, t("escalated_only")),
  );
  return h(
    "form",
    { class: "card row", method: "get", action: "/staff", "aria-label": t("filter") },
    h("div", {}, h("label", { for: "filter-district" }, t("filter_district")), district),
    h("div", {}, h("label", { for: "filter-state" }, t("filter_state")), state),
    h("button", { type: "submit" }, t("apply")),
  );
}

async function render(main) {
  const commission = me().role === "commission";
  const district = commission ? params.get("district") || "" : me().district;
  const query = new URLSearchParams({ limit: String(limit) });
  if (commission && district) query.set("district", district);
  if (commission && params.get("status") === "escalated") query.set("status", "escalated");
  const figuresQuery = district ? `?district=${district}` : "";
  const [queue, figures] = await Promise.all([
    api(`/v1/appeals?${query}`),
    api(`/v1/stats/appeals${figuresQuery}`),
  ]);
  const where = district ? districtName(district) : t("whole_city");
  const heading = h("h1", {}, t("title", where));
  if (!queue.ok) {
    main.replaceChildren(heading, h("p", { class: "alert", role: "alert" }, queue.detail));
    return;
  }
  const appeals = queue.data.appeals;
  const summary = figures.ok
    ? h("p", { id: "queue-figures" }, t("figures", figures.data.open, figures.data.overdue, appeals.length))
    : null;
  const head = h(
    "tr",
    {},
    [t("due"), t("state"), t("category"), t("appellant"), commission ? t("district") : null, t("filed"), t("claimed"), t("act")]
      .filter(Boolean)
      .map((label) => h("th", { scope: "col" }, label)),
  );
  const table = tableWrap(
    t("title", where),
    h("table", { id: "queue" }, h("caption", { class: "visually-hidden" }, t("title", where)), h("thead", {}, head), h("tbody", {}, appeals.map((a) => renderRow(a)))),
  );
  const more =
    appeals.length >= limit && limit < 500
      ? h("button", { type: "button", id: "more", class: "secondary", onclick: () => { limit += 100; render(main); } }, t("more"))
      : null;
  const refresh = h("button", { type: "button", class: "secondary", id: "refresh", onclick: () => render(main) }, t("refresh"));
  main.replaceChildren(
    heading,
    commission ? filters() : "",
    h("div", { class: "row" }, summary, refresh),
    appeals.length ? table : h("p", { id: "queue-empty", class: "card" }, t("empty")),
    more || "",
  );
  notice("");
}

start({ text: TEXT, render });
