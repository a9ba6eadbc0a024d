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

// A recorded rollout: every episode's return, then one episode at a time (a selector): on a GridWorld
// its path over the grid (visit counts of all episodes as the heat map) and a table of its steps;
// elsewhere its observations, actions and cumulative reward against time.
certnn.mount.rollout = function (section, data) {
  var el = certnn.el, svg = certnn.svg, CELL = 48;
  var PALETTE = ["#1565c0", "#e67e22", "#2e7d32", "#8e44ad", "#c0392b", "#16a085"];
  var idx = data.returns.map(function (_, i) { return i; });
  var ret = certnn.chart({title: "return of each recorded episode (sampled)", xlabel: "episode", ylabel: "return",
                          width: 520, height: 200, series: [{name: "return", x: idx, y: data.returns,
                                                             color: PALETTE[0], points: true, width: 0, nolegend: true}]});
  ret.classList.add("ro-returns");
  section.appendChild(ret);
  var select = el("select", {class: "ro-select"});
  data.episodes.forEach(function (ep, k) {
    select.appendChild(el("option", {value: k, text: "episode " + k + ": return " + certnn.fmt(data.returns[k], 6) +
                                     ", " + data.lengths[k] + " steps, " + ending(ep)}));
  });
  var box = el("div", {class: "ro-episode"});
  section.appendChild(el("p", {}, el("label", {text: "episode drawn step by step: "}), select));
  section.appendChild(box);
  select.addEventListener("change", function () { show(+select.value); });
  show(0);

  function ending(ep) { return ep.terminated ? "terminated" : ep.truncated ? "truncated (time limit)" : "cut off"; }
  function actionName(a) {
    return data.actions && a.length === 1 && data.actions[a[0]] !== undefined ? data.actions[a[0]]
         : a.map(function (v) { return certnn.fmt(v, 4); }).join(", ");
  }
  function cumulative(rewards) { var t = 0; return rewards.map(function (r) { t += r; return t; }); }

  function show(k) {
    var ep = data.episodes[k];
    box.textContent = "";
    box.setAttribute("data-episode", k);
    if (data.gridworld) grid(ep); else series(ep);
  }

  function grid(ep) {
    var gw = data.gridworld;
    var fig = certnn.heatmap({grid: gw.grid, marks: gw.marks, cell: CELL,
                              title: "states visited (colour: visits over all " + data.returns.length +
                                     " episodes; line: this episode)",
                              cellTitle: function (r, c) { return gw.names[r][c] + ", visits"; }});
    fig.classList.add("ro-grid");
    var root = fig.querySelector("svg"), pts = ep.states.map(function (s, t) {
      var rc = gw.cells[s], j = (t % 5 - 2) * 2;           // a small offset keeps revisits apart
      return [(rc[1] + 0.5) * CELL + j, (rc[0] + 0.5) * CELL + j];
    });
    root.appendChild(svg("polyline", {points: pts.map(function (p) { return p.join(","); }).join(" "),
                                      class: "ro-path", fill: "none", stroke: "#e53935", "stroke-width": 2}));
    var cum = cumulative(ep.reward);
    ep.states.forEach(function (s, t) {
      var rc = gw.cells[s];
      root.appendChild(svg("circle", {cx: pts[t][0], cy: pts[t][1], r: t === 0 ? 5 : 3, fill: "#e53935",
                                      class: "ro-step", "data-t": t, "data-r": rc[0], "data-c": rc[1]},
                           svg("title", {text: "t = " + t + ": state " + s + (t < ep.action.length ?
                                         ", action " + actionName(ep.action[t]) : "")})));
    });
    box.appendChild(fig);
    var rows = ep.action.map(function (a, t) {
      return "<tr data-t='" + t + "'><td>" + t + "</td><td>" + ep.states[t] + "</td><td>" + certnn.esc(actionName(a)) +
             "</td><td>" + ep.reward[t] + "</td><td>" + ep.states[t + 1] + "</td><td>" + certnn.fmt(cum[t], 6) + "</td></tr>";
    }).join("");
    var tbl = el("table", {class: "ro-steps"});
    tbl.innerHTML = "<thead><tr><th>t</th><th>state</th><th>action</th><th>reward</th><th>next state</th>" +
                    "<th>return so far</th></tr></thead><tbody>" + rows + "</tbody>";
    box.appendChild(el("details", {}, el("summary", {text: "the " + ep.action.length + " steps"}), tbl));
    box.appendChild(el("p", {class: "ro-return", "data-return": cum.length ? cum[cum.length - 1] : 0,
                             text: "return of this episode: " + certnn.fmt(cum.length ? cum[cum.length - 1] : 0, 6)}));
  }

  function series(ep) {
    var t = ep.obs[0].map(function (_, i) { return i; });
    ep.obs.forEach(function (ys, d) {
      var fig = certnn.chart({title: data.obs_names[d] || "obs[" + d + "]", xlabel: "step", width: 330, height: 170,
                              series: [{name: data.obs_names[d], x: t, y: ys, color: PALETTE[d % PALETTE.length],
                                        nolegend: true}]});
      fig.classList.add("ro-series");
      box.appendChild(fig);
    });
    var steps = t.slice(1), dims = ep.action.length ? ep.action[0].length : 0;
    for (var d = 0; d < dims; d++) {
      var fig = certnn.chart({title: dims > 1 ? "action[" + d + "]" : "action" + (data.actions ? " (" +
                                data.actions.map(function (n, i) { return i + " " + n; }).join(", ") + ")" : ""),
                              xlabel: "step", width: 330, height: 170,
                              series: [{name: "action", x: steps, y: ep.action.map(function (a) { return a[d]; }),
                                        color: "#555", nolegend: true,
                                        width: data.actions ? 0 : 1.5, points: !!data.actions}]});   // discrete: dots
      fig.classList.add("ro-series");
      box.appendChild(fig);
    }
    var cum = cumulative(ep.reward);
    var fr = certnn.chart({title: "return so far", xlabel: "step", width: 330, height: 170,
                           series: [{name: "return so far", x: steps, y: cum, color: "#2e7d32", nolegend: true}]});
    fr.classList.add("ro-series");
    box.appendChild(fr);
    box.appendChild(el("p", {class: "ro-return", "data-return": cum.length ? cum[cum.length - 1] : 0,
                             text: "return of this episode: " + certnn.fmt(cum.length ? cum[cum.length - 1] : 0, 6)}));
  }
};
