/* Draws every <div class="chart" data-chart="{...}"> with ECharts (no inline script: CSP). */
(function () {
  "use strict";
  var PALETTE = ["#b3261e", "#1f6feb", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4",
                 "#6e7781", "#e16f24", "#116329"];
  var FONT = '-apple-system, "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';

  function optionFor(spec) {
    var base = { color: PALETTE, textStyle: { fontFamily: FONT }, animation: false,
                 tooltip: { trigger: spec.type === "pie" ? "item" : "axis", renderMode: "richText" } };
    if (spec.type === "pie") {
      base.legend = { type: "scroll", bottom: 0 };
      base.series = [{ type: "pie", radius: ["35%", "65%"], center: ["50%", "45%"],
        label: { formatter: "{b}\n{c}" },
        data: spec.labels.map(function (label, i) { return { name: label, value: spec.values[i] }; }) }];
      return base;
    }
    var series = spec.series || [{ name: spec.name || "", values: spec.values }];
    base.grid = { left: 8, right: 16, top: series.length > 1 ? 34 : 16, bottom: 8, containLabel: true };
    if (series.length > 1) { base.legend = { top: 0 }; }
    base.xAxis = { type: "category", data: spec.labels,
                   axisLabel: { interval: spec.type === "line" ? "auto" : 0, rotate: spec.labels.length > 6 ? 30 : 0,
                                width: 90, overflow: "truncate" } };
    base.yAxis = { type: "value", minInterval: spec.series ? 0 : 1 };
    base.series = series.map(function (s) {
      return { name: s.name, type: spec.type === "line" ? "line" : "bar", data: s.values,
               smooth: spec.type === "line", areaStyle: spec.type === "line" ? { opacity: 0.15 } : undefined,
               label: { show: spec.type !== "line" && spec.labels.length <= 12, position: "top" } };
    });
    return base;
  }

  function draw(el) {
    var spec;
    try { spec = JSON.parse(el.getAttribute("data-chart")); } catch (e) { return; }
    if (!spec || !spec.labels || spec.labels.length === 0) {
      el.classList.add("chart-empty");
      el.textContent = el.getAttribute("data-empty") || "暂无数据";
      return;
    }
    var chart = window.echarts.init(el, null, { renderer: "canvas", locale: "ZH" });
    chart.setOption(optionFor(spec));
    if (spec.links) {
      chart.on("click", function (params) {
        var url = spec.links[params.dataIndex];
        if (url) { window.location.href = url; }
      });
    }
    window.addEventListener("resize", function () { chart.resize(); });
    el.setAttribute("data-drawn", "1");
  }

  function start() {
    if (!window.echarts) { return; }
    var charts = document.querySelectorAll("[data-chart]");
    for (var i = 0; i < charts.length; i++) { draw(charts[i]); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
