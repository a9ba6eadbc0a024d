// Control views: a reach tube per state over time (the certified enclosure as bands,
// simulated trajectories as thin lines, unsafe / target bounds as horizontal lines);
// a Lyapunov certificate's leaf boxes by kind next to V on a grid.
"use strict";
certnn.mount.tube = function (section, data) {
  data.states.forEach(function (name, i) {
    var series = data.sim[i].map(function (ys, k) {
      return {name: k === 0 ? "simulated (tested)" : "", nolegend: k > 0, x: data.sim_t, y: ys, color: "#1d2430",
              width: 0.7, opacity: 0.5};
    });
    var hlines = data.spec.filter(function (s) { return s.state === i; }).map(function (s) {
      return {y: s.bound, color: s.kind === "unsafe" ? "#c0392b" : "#2e7d32", dash: "5 3",
              label: s.kind + ": " + s.text + " on [" + s.window.join(", ") + "]"};
    });
    var fig = certnn.chart({title: name + " over time", xlabel: "t", ylabel: name, width: 640, height: 260, series: series,
                            hlines: hlines, bands: [{name: data.ok ? "reach tube (certified)" : "reach tube (rejected)",
                                                     x0: data.t0, x1: data.t1, lo: data.lo[i], hi: data.hi[i],
                                                     color: data.ok ? "#4a90d9" : "#999"}]});
    fig.classList.add("tube-state");
    fig.setAttribute("data-state", name);
    section.appendChild(fig);
  });
};

certnn.mount.lyapunov = function (section, data) {
  var svg = certnn.svg, el = certnn.el, W = 380, H = 380;
  var KIND = {1: ["#a5d6a7", "V > 0 and V' < 0 certified"], 2: ["#90caf9", "inside the excluded ball"], 3: ["#ef9a9a", "not certified"]};
  var lo = data.root_lo.map(certnn.num), hi = data.root_hi.map(certnn.num);
  function X(v) { return 40 + (v - lo[0]) / (hi[0] - lo[0]) * W; }
  function Y(v) { return 10 + H - (v - lo[1]) / (hi[1] - lo[1]) * H; }
  var parts = [];
  data.kind.forEach(function (k, j) {
    var a = data.lo[j], b = data.hi[j];
    parts.push('<rect class="ly-leaf k' + k + '" x="' + X(a[0]).toFixed(2) + '" y="' + Y(b[1]).toFixed(2) + '" width="' +
               Math.max(0.3, X(b[0]) - X(a[0])).toFixed(2) + '" height="' + Math.max(0.3, Y(a[1]) - Y(b[1])).toFixed(2) +
               '" fill="' + KIND[k][0] + '" stroke="#555" stroke-width="0.2"/>');
  });
  var root = svg("svg", {width: W + 60, height: H + 50, class: "ly-leaves"});
  root.innerHTML = parts.join("");
  root.appendChild(svg("text", {x: 40 + W / 2, y: H + 42, "text-anchor": "middle", class: "tick", text: data.states[0]}));
  root.appendChild(svg("text", {x: 4, y: 10 + H / 2, class: "tick", text: data.states[1]}));
  var legend = el("div", {class: "chart-legend"}, [1, 2, 3].map(function (k) {
    return el("span", {}, el("i", {style: "background:" + KIND[k][0]}), KIND[k][1]);
  }));
  var leaves = el("figure", {class: "chart-box"}, el("figcaption", {text: data.kind.length + " leaf boxes of the split tree"}), root, legend);
  var heat = certnn.heatmap({grid: data.V, title: "V on a grid (computed, for the picture only)", cell: 8});
  section.appendChild(el("div", {class: "row"}, leaves, heat));
};
