// Risk areas and test campaigns (commission): list, add or end a listing (backdating
// allowed) or start a campaign, each previewed first — how many people would turn which
// colour, per district — then confirmed, then followed as a job until it is done.
import { DISTRICTS, api, colorBadge, districtName, h, me, notFound, start, t, tableWrap, time } from "./staff-common.js";

const TEXT = {
  zh: {
    title: "风险地区与区域检测",
    listings: "风险地区",
    none: "没有风险地区。",
    area: "地区代码",
    level: "风险等级",
    medium: "中风险",
    high: "高风险",
    from: "起始时间（上海时间，可以追溯）",
    to: "结束时间（上海时间，可不填）",
    changed: "最后更改",
    act: "操作",
    end: "结束",
    end_label: (area) => `结束 ${area} 的列名`,
    add: "列为风险地区",
    preview: "预览影响",
    confirm: "确认",
    cancel: "取消",
    preview_title: (n) => `预览：可能受影响 ${n} 人；现在会变色的人数：`,
    no_change: "现在没有人会因此变色（之后的变化仍会按规则发生）。",
    district: "区",
    before: "原颜色",
    after: "新颜色",
    people: "人数",
    applied: "已生效，正在清点需要重新计算的人…",
    job: (state, done, total) => `任务 ${state}：${done} / ${total}`,
    job_states: { running: "进行中", done: "已完成", failed: "失败" },
    campaign: "区域检测",
    campaign_districts: "参加检测的区",
    starts: "开始时间（上海时间）",
    ends: "结束时间（上海时间）",
    campaign_add: "安排区域检测",
    only_commission: "此页面仅供市卫健委委员使用。",
    open_ended: "未结束",
  },
  en: {
    title: "Risk areas and test campaigns",
    listings: "Risk-area listings",
    none: "No area is listed.",
    area: "Area code",
    level: "Level",
    medium: "medium",
    high: "high",
    from: "From (Shanghai time; may be in the past)",
    to: "Until (Shanghai time, optional)",
    changed: "Last changed",
    act: "Action",
    end: "End",
    end_label: (area) => `End the listing of ${area}`,
    add: "List an area",
    preview: "Preview",
    confirm: "Confirm",
    cancel: "Cancel",
    preview_title: (n) => `Preview: ${n} people can be affected; those whose colour changes now:`,
    no_change: "Nobody's colour changes now (later changes still follow the rules).",
    district: "District",
    before: "Before",
    after: "After",
    people: "People",
    applied: "In force; counting the people to re-evaluate…",
    job: (state, done, total) => `Job ${state}: ${done} / ${total}`,
    job_states: { running: "running", done: "done", failed: "failed" },
    campaign: "Test campaigns",
    campaign_districts: "Districts taking part",
    starts: "Starts (Shanghai time)",
    ends: "Ends (Shanghai time)",
    campaign_add: "Start a campaign",
    only_commission: "This page is for commission members.",
    open_ended: "open",
  },
};

function cityTime(value) {
  return value ? `${value}:00+08:00` : null;
}

function localValue(iso) {
  // An instant as a datetime-local value in Shanghai time.
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
      .formatToParts(new Date(iso))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

function previewTable(result) {
  const rows = result.by_district || [];
  if (!rows.length) return h("p", { class: "hint" }, t("no_change"));
  return tableWrap(
    t("preview"),
    h(
    "table",
    { class: "preview-table" },
    h("thead", {}, h("tr", {}, [t("district"), t("before"), t("after"), t("people")].map((x) => h("th", { scope: "col" }, x)))),
    h(
      "tbody",
      {},
      rows.map((r) =>
        h("tr", { dataset: { district: r.district, after: r.after } }, h("td", {}, districtName(r.district)), h("td", {}, colorBadge(r.before)), h("td", {}, colorBadge(r.after)), h("td", { class: "num" }, String(r.people))),
      ),
    ),
    ),
  );
}

// Follow a job (SPEC §9) until it is done or failed.
async function follow(jobId, line) {
  for (;;) {
    const answer = await api(`/v1/jobs/${encodeURIComponent(jobId)}`);
    if (!answer.ok) {
      line.textContent = answer.detail;
      return;
    }
    const job = answer.data;
    line.dataset.state = job.state;
    line.textContent = t("job", t("job_states")[job.state] || job.state, job.done, job.total ?? "…");
    if (job.state !== "running") return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// Preview, then confirm: `send(dryRun)` calls the API; the same body both times.
function previewThenConfirm(form, send, area) {
  const panel = h("div", { class: "card preview", hidden: true, "aria-live": "polite" });
  const result = h("p", { role: "status", class: "result" });
  const confirm = h("button", { type: "button", class: "confirm" }, t("confirm"));
  const cancel = h("button", { type: "button", class: "secondary" }, t("cancel"));
  cancel.addEventListener("click", () => {
    panel.hidden = true;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await send(true);
    if (!answer.ok) {
      result.textContent = answer.detail;
      panel.hidden = true;
      return;
    }
    result.textContent = "";
    panel.replaceChildren(h("h3", {}, t("preview_title", answer.data.affected)), previewTable(answer.data), h("div", { class: "actions" }, confirm, cancel));
    panel.hidden = false;
    confirm.disabled = false;
    confirm.focus();
  });
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    const answer = await send(false);
    if (!answer.ok) {
      result.textContent = answer.detail;
      return;
    }
    panel.hidden = true;
    const line = h("p", { class: "result job", role: "status" }, t("applied"));
    result.replaceChildren(line);
    if (answer.data.job_id) await follow(answer.data.job_id, line);
    else line.dataset.state = "done";
  });
  area.append(panel, result);
}

function listingForm() {
  const form = h(
    "form",
    { id: "listing-form", class: "row" },
    h("div", {}, h("label", { for: "listing-area" }, t("area")), h("input", { id: "listing-area", name: "area", required: true, pattern: "[0-9]{6}", inputmode: "numeric", size: "8" })),
    h("div", {}, h("label", { for: "listing-level" }, t("level")), h("select", { id: "listing-level", name: "level" }, h("option", { value: "medium" }, t("medium")), h("option", { value: "high" }, t("high")))),
    h("div", {}, h("label", { for: "listing-from" }, t("from")), h("input", { id: "listing-from", name: "from", type: "datetime-local", required: true })),
    h("div", {}, h("label", { for: "listing-to" }, t("to")), h("input", { id: "listing-to", name: "to", type: "datetime-local" })),
    h("button", { type: "submit", id: "listing-preview" }, t("preview")),
  );
  const area = h("section", { class: "card", id: "add-listing" }, h("h2", {}, t("add")), form);
  previewThenConfirm(
    form,
    (dryRun) => {
      const body = { level: form.level.value, valid_from: cityTime(form.from.value) };
      if (form.to.value) body.valid_to = cityTime(form.to.value);
      return api(`/v1/risk-areas/${encodeURIComponent(form.area.value.trim())}?dry_run=${dryRun}`, { method: "PUT", body });
    },
    area,
  );
  return area;
}

function campaignForm() {
  const boxes = Object.keys(DISTRICTS).map((code) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "districts", value: code }), ` ${districtName(code)}`),
  );
  const form = h(
    "form",
    { id: "campaign-form" },
    h("fieldset", {}, h("legend", {}, t("campaign_districts")), h("div", { class: "row" }, boxes)),
    h(
      "div",
      { class: "row" },
      h("div", {}, h("label", { for: "campaign-starts" }, t("starts")), h("input", { id: "campaign-starts", name: "starts", type: "datetime-local", required: true })),
      h("div", {}, h("label", { for: "campaign-ends" }, t("ends")), h("input", { id: "campaign-ends", name: "ends", type: "datetime-local", required: true })),
      h("button", { type: "submit", id: "campaign-preview" }, t("preview")),
    ),
  );
  const area = h("section", { class: "card", id: "add-campaign" }, h("h2", {}, t("campaign_add")), form);
  previewThenConfirm(
    form,
    (dryRun) =>
      api(`/v1/campaigns?dry_run=${dryRun}`, {
        method: "POST",
        retry: dryRun ? undefined : "campaign",
        body: {
          districts: [...form.querySelectorAll("input[name=districts]:checked")].map((x) => x.value),
          starts_at: cityTime(form.starts.value),
          ends_at: cityTime(form.ends.value),
        },
      }),
    area,
  );
  return area;
}

function listingRow(l) {
  const cell = h("td", {});
  if (!l.valid_to) {
    const form = h("form", { class: "row" }, h("button", { type: "submit", class: "secondary", "aria-label": t("end_label", l.area_code) }, t("end")));
    previewThenConfirm(
      form,
      (dryRun) =>
        api(`/v1/risk-areas/${encodeURIComponent(l.area_code)}?dry_run=${dryRun}`, {
          method: "PUT",
          body: { level: l.level, valid_from: l.valid_from, valid_to: new Date().toISOString() },
        }),
      cell,
    );
    cell.prepend(form);
  }
  return h(
    "tr",
    { dataset: { area: l.area_code } },
    h("td", {}, l.area_code),
    h("td", {}, t(l.level)),
    h("td", {}, time(l.valid_from)),
    h("td", {}, l.valid_to ? time(l.valid_to) : t("open_ended")),
    h("td", {}, `${l.changed_by || ""} ${l.changed_at ? time(l.changed_at) : ""}`),
    cell,
  );
}

async function render(main) {
  if (me().role !== "commission") {
    notFound(main, t("only_commission"));
    return;
  }
  const listings = await api("/v1/risk-areas");
  const rows = listings.ok ? listings.data.listings : [];
  const head = h("tr", {}, [t("area"), t("level"), t("from"), t("to"), t("changed"), t("act")].map((x) => h("th", { scope: "col" }, x)));
  const adding = listingForm();
  main.replaceChildren(
    h("h1", {}, t("title")),
    h(
      "section",
      { class: "card" },
      h("h2", {}, t("listings")),
      rows.length ? tableWrap(t("listings"), h("table", { id: "listings" }, h("thead", {}, head), h("tbody", {}, rows.map(listingRow)))) : h("p", { class: "hint" }, t("none")),
    ),
    adding,
    campaignForm(),
  );
  adding.querySelector("#listing-from").value = localValue(new Date(Date.now() - 7 * 86400_000).toISOString());
}

start({ text: TEXT, render });
