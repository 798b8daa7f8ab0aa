/* Draws every <div class="chart" data-chart="{...}"> with ECharts (no inline script: CSP).
 *
 * Spec: {type: "bar"|"line"|"pie", labels: [...], values: [...] | series: [{name, values}],
 *        titles: [...] (optional full text per label, shown in the tooltip),
 *        links: [...] (optional URL per label), horizontal: bool (optional)}.
 * Bars turn horizontal when asked to (data-horizontal="1" or spec.horizontal) or when the
 * labels would not fit side by side under vertical bars. */
(function () {
  "use strict";
  var PALETTE = ["#b3261e", "#1f6feb", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4",
                 "#6e7781", "#e16f24", "#116329"];
  var FONT = '-apple-system, "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
  var LABEL_PX = 12;        // ECharts' default axis label font size
  var ROW_PX = 28;          // height of one horizontal bar row
  var WRAP_PX = 13;         // width budget per character when wrapping tooltip text

  function seriesOf(spec) {
    return spec.series || [{ name: spec.name || "", values: spec.values }];
  }

  // True when at least one value is a number other than 0 (null/0 everywhere = nothing to draw).
  function hasData(spec) {
    if (!spec || !spec.labels || spec.labels.length === 0) { return false; }
    var series = seriesOf(spec);
    for (var i = 0; i < series.length; i++) {
      var values = series[i].values || [];
      for (var j = 0; j < values.length; j++) {
        if (typeof values[j] === "number" && values[j] !== 0 && isFinite(values[j])) { return true; }
      }
    }
    return false;
  }

  // Approximate rendered width of a label: CJK and full-width characters are about one em.
  function textWidth(text) {
    var s = String(text), w = 0;
    for (var i = 0; i < s.length; i++) { w += s.charCodeAt(i) > 0x2e80 ? LABEL_PX : LABEL_PX * 0.6; }
    return w;
  }

  function labelsCollide(spec, width) {
    var slot = (width - 48) / spec.labels.length;   // minus the value axis
    var widest = 0;
    for (var i = 0; i < spec.labels.length; i++) { widest = Math.max(widest, textWidth(spec.labels[i])); }
    return widest > slot - 6;
  }

  // Break long text into lines of at most `perLine` characters (tooltips have no auto-wrap in
  // rich-text mode).
  function wrap(text, perLine) {
    var s = String(text), lines = [];
    for (var i = 0; i < s.length; i += perLine) { lines.push(s.slice(i, i + perLine)); }
    return lines.join("\n");
  }

  function fmt(value) { return value === null || value === undefined ? "—" : String(value); }

  function tooltipFormatter(spec, width) {
    var perLine = Math.max(10, Math.floor((Math.min(width, 480) - 40) / WRAP_PX));
    return function (params) {
      var list = Array.isArray(params) ? params : [params];
      if (list.length === 0) { return ""; }
      var i = list[0].dataIndex;
      var head = spec.titles && spec.titles[i] ? spec.titles[i] : spec.labels[i];
      var lines = [wrap(head, perLine)];
      for (var k = 0; k < list.length; k++) {
        lines.push((list[k].seriesName ? list[k].seriesName + "：" : "") + fmt(list[k].value));
      }
      return lines.join("\n");
    };
  }

  function optionFor(spec, el, horizontal) {
    var width = el.clientWidth || 360;
    var base = { color: PALETTE, textStyle: { fontFamily: FONT }, animation: false,
                 tooltip: { trigger: spec.type === "pie" ? "item" : "axis", renderMode: "richText",
                            confine: true } };
    if (spec.type === "pie") {
      base.legend = { type: "scroll", bottom: 0 };
      base.series = [{ type: "pie", radius: ["35%", "65%"], center: ["50%", "45%"],
        label: { formatter: "{b}\n{c}" },
        data: spec.labels.map(function (label, i) { return { name: label, value: spec.values[i] }; }) }];
      return base;
    }
    var series = seriesOf(spec);
    base.grid = { left: 8, right: horizontal ? 32 : 16, top: series.length > 1 ? 34 : 16, bottom: 8,
                  containLabel: true };
    if (series.length > 1) { base.legend = { top: 0 }; }
    if (spec.titles || horizontal) { base.tooltip.formatter = tooltipFormatter(spec, width); }
    var showValues = spec.type !== "line" && (horizontal || spec.labels.length <= 12);
    if (horizontal) {
      // Category axis on the left, first row on top; long labels end in "…" (full text in
      // the tooltip and in the table under the chart).
      var labelWidth = Math.round(Math.min(Math.max(width * 0.42, 90), 300));
      base.tooltip.axisPointer = { type: "shadow" };
      base.yAxis = { type: "category", data: spec.labels, inverse: true,
                     axisLabel: { interval: 0, width: labelWidth, overflow: "truncate", ellipsis: "…" } };
      base.xAxis = { type: "value", minInterval: spec.series ? 0 : 1 };
    } else {
      base.xAxis = { type: "category", data: spec.labels,
                     axisLabel: { interval: spec.type === "line" ? "auto" : 0,
                                  rotate: spec.labels.length > 6 ? 30 : 0, width: 90, overflow: "truncate" } };
      base.yAxis = { type: "value", minInterval: spec.series ? 0 : 1 };
    }
    base.series = series.map(function (s) {
      return { name: s.name, type: spec.type === "line" ? "line" : "bar", data: s.values,
               smooth: spec.type === "line", areaStyle: spec.type === "line" ? { opacity: 0.15 } : undefined,
               barMaxWidth: horizontal ? 22 : undefined,
               label: { show: showValues, position: horizontal ? "right" : "top" } };
    });
    return base;
  }

  function showEmpty(el) {
    el.classList.add("chart-empty");
    el.removeAttribute("role");
    el.textContent = el.getAttribute("data-empty") || "暂无数据";
  }

  function draw(el) {
    var spec;
    try { spec = JSON.parse(el.getAttribute("data-chart")); } catch (e) { return; }
    if (!hasData(spec)) { showEmpty(el); return; }
    var horizontal = false;
    if (spec.type === "bar") {
      horizontal = !!spec.horizontal || el.getAttribute("data-horizontal") === "1" ||
                   labelsCollide(spec, el.clientWidth || 360);
    }
    if (horizontal) {
      var legend = seriesOf(spec).length > 1 ? 34 : 0;
      el.style.height = Math.max(160, spec.labels.length * ROW_PX * seriesOf(spec).length + 48 + legend) + "px";
    }
    var chart = window.echarts.init(el, null, { renderer: "canvas", locale: "ZH" });
    chart.setOption(optionFor(spec, el, horizontal));
    if (spec.links) {
      chart.on("click", function (params) {
        var url = spec.links[params.dataIndex];
        if (url) { window.location.href = url; }
      });
    }
    window.addEventListener("resize", function () { chart.resize(); });
    el.setAttribute("data-drawn", "1");
    if (horizontal) { el.setAttribute("data-orient", "horizontal"); }
  }

  function start() {
    if (!window.echarts) { return; }
    var charts = document.querySelectorAll("[data-chart]");
    for (var i = 0; i < charts.length; i++) { draw(charts[i]); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
