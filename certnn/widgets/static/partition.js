// Box-partition certificates (PINN residual, approximation): the certified-bound map
// (per pixel the largest leaf bound meeting it, leaf outlines on top) next to the sampled
// map, on one colour scale; in one dimension, the leaf bounds as steps and the sampled error.
"use strict";
certnn.mount.partition = function (section, data) {
  var el = certnn.el, svg = certnn.svg, num = certnn.num;
  var label = data.ok ? "certified bound" : "claimed bound (NOT accepted)";
  function steps(d, width) {          // one dimension: leaf bounds as steps, the sampled error as a line
    var fig = certnn.chart({title: d.quantity + " over " + d.axes[0], xlabel: d.axes[0], ylabel: d.quantity,
                            width: width, height: 260,
                            bands: [{name: label + " per leaf (" + d.leaves + ")", x0: d.x0, x1: d.x1,
                                     lo: d.x0.map(function () { return 0; }), hi: d.bounds,
                                     color: d.ok ? "#4a90d9" : "#999"}],
                            series: [{name: "sampled (tested)", x: d.x, y: d.err, color: "#1d2430", width: 1}]});
    fig.classList.add("partition-1d");
    return fig;
  }
  if (data.x0) { section.appendChild(steps(data, 640)); return; }
  var cell = 5, n = data.bound.length;
  var bound = certnn.heatmap({grid: data.bound, extent: data.extent, cell: cell,
                              title: label + " of " + data.quantity + ", " + data.leaves + " leaves"});
  bound.classList.add("partition-bound");
  var lo = data.root_lo.map(num), hi = data.root_hi.map(num), W = n * cell;
  var parts = [];
  data.outline_lo.forEach(function (a, j) {
    var b = data.outline_hi[j];
    var x0 = (num(a[0]) - lo[0]) / (hi[0] - lo[0]) * W, x1 = (num(b[0]) - lo[0]) / (hi[0] - lo[0]) * W;
    var y0 = (hi[1] - num(b[1])) / (hi[1] - lo[1]) * W, y1 = (hi[1] - num(a[1])) / (hi[1] - lo[1]) * W;
    parts.push('<rect class="leaf" x="' + x0.toFixed(2) + '" y="' + y0.toFixed(2) + '" width="' + (x1 - x0).toFixed(2) +
               '" height="' + (y1 - y0).toFixed(2) + '" fill="none" stroke="#fff" stroke-width="0.4" opacity="0.7"/>');
  });
  var g = svg("g", {class: "leaf-outlines"});
  g.innerHTML = parts.join("");
  bound.querySelector("svg").appendChild(g);
  var sampled = certnn.heatmap({grid: data.sampled, extent: data.extent, cell: cell,
                                title: "sampled " + data.quantity + " (tested)"});
  sampled.classList.add("partition-sampled");
  function range(k) { return data.axes[k] + " in [" + certnn.fmt(lo[k], 5) + ", " + certnn.fmt(hi[k], 5) + "]"; }
  var axes = el("p", {class: "muted", text: "horizontal: " + range(0) + ", vertical: " + range(1) +
                      " (upwards); one colour scale for both maps"});
  section.appendChild(el("div", {class: "row"}, bound, sampled));
  section.appendChild(axes);
  if (data.faces && data.faces.length)
    section.appendChild(el("div", {class: "row partition-faces"}, data.faces.map(function (f) { return steps(f, 420); })));
};
