// Training curves: one line chart per group of series (loss, accuracy, returns, ...).
"use strict";
certnn.mount.curves = function (section, data) {
  var PALETTE = ["#1565c0", "#e67e22", "#2e7d32", "#8e44ad", "#c0392b", "#16a085"];
  data.charts.forEach(function (c) {
    var fig = certnn.chart({title: c.title, xlabel: c.xlabel, ylabel: c.title, width: 520, height: 240,
                            series: c.series.map(function (s, i) {
                              return {name: s.name, x: s.x, y: s.y, color: PALETTE[i % PALETTE.length], points: s.x.length <= 60};
                            })});
    fig.classList.add("curve");
    fig.setAttribute("data-title", c.title);
    section.appendChild(fig);
  });
};
