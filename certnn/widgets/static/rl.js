// MDP value certificate: on a GridWorld layout, the values as a heat map with the policy's
// arrows; otherwise one bar per state (value, with the action of the policy below it).
"use strict";
certnn.mount.mdp = function (section, data) {
  var what = data.ok ? "values (certified within " + certnn.fmt(data.bound, 3) + " of V*)"
                     : "values claimed by a REJECTED certificate (no claim)";
  var fig;
  if (data.gridworld) {
    var gw = data.gridworld;
    fig = certnn.heatmap({grid: gw.grid, arrows: gw.arrows, marks: gw.marks, title: what + " and the policy",
                          cellTitle: function (r, c) { return gw.names[r][c]; }});
    fig.classList.add("mdp-grid");
  } else {
    fig = bars(data.values, data.policy, what);
  }
  fig.setAttribute("data-ok", String(data.ok));
  section.appendChild(fig);

  function bars(values, policy, title) {
    var svg = certnn.svg, n = values.length, W = Math.max(300, Math.min(900, n * 24)), H = 220, m = 50;
    var bw = (W - m) / n, vals = values.map(certnn.num);
    var lo = Math.min(0, Math.min.apply(null, vals)), hi = Math.max(0, Math.max.apply(null, vals));
    if (!(hi > lo)) hi = lo + 1;
    function Y(v) { return 10 + (hi - v) / (hi - lo) * (H - 40); }
    var root = svg("svg", {class: "chart mdp-bars", width: W, height: H});
    root.appendChild(svg("line", {x1: m, x2: W, y1: Y(0), y2: Y(0), stroke: "#555"}));
    [lo, hi].forEach(function (t) {
      root.appendChild(svg("text", {x: m - 4, y: Y(t) + 4, "text-anchor": "end", class: "tick", text: certnn.fmt(t, 3)}));
    });
    vals.forEach(function (v, s) {
      var x = m + s * bw, y0 = Y(Math.max(v, 0)), y1 = Y(Math.min(v, 0));
      root.appendChild(svg("rect", {x: x + 1, y: y0, width: Math.max(bw - 2, 1), height: Math.max(y1 - y0, 0.5),
                                    class: "mdp-bar", fill: data.ok ? "#4a90d9" : "#999", "data-state": s},
                           svg("title", {text: "state " + s + ": " + certnn.fmt(v, 6) + ", action " + policy[s]})));
      if (n <= 40) root.appendChild(svg("text", {x: x + bw / 2, y: H - 14, "text-anchor": "middle", class: "tick",
                                                 text: "a" + policy[s]}));
    });
    root.appendChild(svg("text", {x: (W + m) / 2, y: H - 1, "text-anchor": "middle", class: "label",
                                  text: "state (action of the policy below)"}));
    return certnn.el("figure", {class: "chart-box"}, certnn.el("figcaption", {text: title}), root);
  }
};
