// At a glance: green, yellow and red now and day by day over the last 30 days (as shown
// at the time; the chart is drawn by the service), and how appeals are being worked.
import { DISTRICTS, api, districtName, h, lang, me, start, t, tableWrap, time } from "./staff-common.js";

const TEXT = {
  zh: {
    title: (where) => `概况 · ${where}`,
    now: "现在",
    days: "最近 30 天（每日零点当时显示的颜色）",
    chart_alt: (where) => `${where}最近 30 天各颜色人数图`,
    table: "逐日数字",
    at: "时间",
    green: "绿码",
    yellow: "黄码",
    red: "红码",
    appeals: "申诉办理",
    district: "区",
    filed: "提交",
    decided: "已决定",
    open: "未办结",
    overdue: "已超时",
    median: "决定用时中位数（小时）",
    by_district: "各区",
    pick: "查看",
    show: "显示",
  },
  en: {
    title: (where) => `At a glance · ${where}`,
    now: "Now",
    days: "The last 30 days (colours as shown at midnight each day)",
    chart_alt: (where) => `People by colour over the last 30 days, ${where}`,
    table: "Day by day",
    at: "At",
    green: "green",
    yellow: "yellow",
    red: "red",
    appeals: "Appeals",
    district: "District",
    filed: "Filed",
    decided: "Decided",
    open: "Open",
    overdue: "Overdue",
    median: "Median hours to decision",
    by_district: "Per district",
    pick: "Show",
    show: "Show",
  },
};

const params = new URLSearchParams(location.search);

function countsRow(label, s) {
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, label),
    h("td", { class: "num" }, String(s.green)),
    h("td", { class: "num" }, String(s.yellow)),
    h("td", { class: "num" }, String(s.red)),
  );
}

function appealRow(label, f) {
  return h(
    "tr",
    { dataset: { district: f.district || "" } },
    h("th", { scope: "row" }, label),
    ...[f.filed, f.decided, f.open, f.overdue].map((n) => h("td", { class: "num" }, String(n))),
    h("td", { class: "num" }, f.median_hours_to_decision === null ? "—" : String(f.median_hours_to_decision)),
  );
}

async function render(main) {
  const commission = me().role === "commission";
  const district = commission ? params.get("district") || "" : me().district;
  const scope = district ? `district=${district}` : "";
  const where = district ? districtName(district) : t("whole_city");
  const by = commission && !district ? "by=district" : "";
  const [colors, appeals] = await Promise.all([
    api(`/v1/stats/colors?${[scope, by].filter(Boolean).join("&")}`),
    api(`/v1/stats/appeals?${[scope, by].filter(Boolean).join("&")}`),
  ]);
  const picker = commission
    ? h(
        "form",
        { class: "card row", method: "get", action: "/staff/glance" },
        h(
          "div",
          {},
          h("label", { for: "glance-district" }, t("district")),
          h(
            "select",
            { id: "glance-district", name: "district" },
            h("option", { value: "" }, t("whole_city")),
            Object.keys(DISTRICTS).map((code) => h("option", { value: code, selected: code === district }, districtName(code))),
          ),
        ),
        h("button", { type: "submit" }, t("show")),
      )
    : "";
  const steps = colors.ok ? colors.data.steps : [];
  const last = steps[steps.length - 1] || { green: 0, yellow: 0, red: 0 };
  const head = h("tr", {}, h("th", { scope: "col" }, t("at")), h("th", { scope: "col", class: "num" }, t("green")), h("th", { scope: "col", class: "num" }, t("yellow")), h("th", { scope: "col", class: "num" }, t("red")));
  const chartSrc = `/v1/stats/colors.svg?${[scope, `lang=${lang()}`].filter(Boolean).join("&")}`;
  const appealHead = h("tr", {}, [t("district"), t("filed"), t("decided"), t("open"), t("overdue"), t("median")].map((x, i) => h("th", { scope: "col", class: i ? "num" : null }, x)));
  const perDistrict = appeals.ok && appeals.data.districts ? appeals.data.districts : [];
  const colorDistricts = colors.ok && colors.data.districts ? colors.data.districts : [];
  main.replaceChildren(
    h("h1", {}, t("title", where)),
    picker,
    h(
      "div",
      { class: "columns" },
      h(
        "section",
        { class: "card", id: "now" },
        h("h2", {}, t("now")),
        tableWrap(t("now"), h("table", { id: "now-counts" }, h("thead", {}, head.cloneNode(true)), h("tbody", {}, countsRow(where, last), colorDistricts.map((d) => countsRow(districtName(d.district), d.steps[d.steps.length - 1]))))),
      ),
      h(
        "section",
        { class: "card", id: "appeal-figures" },
        h("h2", {}, t("appeals")),
        tableWrap(t("appeals"), h("table", {}, h("thead", {}, appealHead), h("tbody", {}, appeals.ok ? appealRow(where, appeals.data) : "", perDistrict.map((f) => appealRow(districtName(f.district), f))))),
      ),
    ),
    h(
      "section",
      { class: "card chart" },
      h("h2", {}, t("days")),
      h("img", { id: "chart", src: chartSrc, alt: t("chart_alt", where), width: "760", height: "280" }),
      h(
        "details",
        {},
        h("summary", {}, t("table")),
        tableWrap(t("table"), h("table", { id: "days" }, h("thead", {}, head), h("tbody", {}, steps.map((s) => countsRow(time(s.at), s))))),
      ),
    ),
  );
}

start({ text: TEXT, render });
