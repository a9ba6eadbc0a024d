// The bounds view: one panel per layer, one column per neuron; each method's interval is
// a thin bar, the sampled range (tested) a dark bar inside it, unstable ReLUs shaded.
"use strict";
certnn.mount.bounds = function (section, data) {
  var el = certnn.el, svg = certnn.svg, num = certnn.num, fmt = certnn.fmt;
  var COLORS = {"ibp": "#9aa5b1", "crown": "#4a90d9", "crown-ibp": "#7fb3e6", "same-slope": "#6c5ce7", "alpha-crown": "#2e7d32"};
  var shown = {};
  data.methods.forEach(function (m) { shown[m] = true; });
  var toggles = el("p", {class: "bounds-toggles"}, "show: ", data.methods.map(function (m) {
    var cb = el("input", {type: "checkbox", checked: "", "data-method": m, onchange: function () { shown[m] = cb.checked; draw(); }});
    return el("label", {style: "margin-right:12px"}, cb, el("i", {style: "display:inline-block;width:12px;height:8px;margin:0 3px;background:" + (COLORS[m] || "#555")}), m);
  }), el("label", {}, el("i", {style: "display:inline-block;width:12px;height:8px;margin:0 3px;background:#1d2430"}),
         "sampled range (tested, " + data.samples + " inputs)"));
  var panels = el("div", {class: "bounds-panels"});
  section.appendChild(toggles);
  section.appendChild(panels);
  draw();

  function draw() {
    panels.innerHTML = "";
    data.layers.forEach(function (L) { panels.appendChild(panel(L)); });
  }

  function panel(L) {
    var methods = data.methods.filter(function (m) { return shown[m] && L.methods[m]; });
    var n = L.methods[data.methods[0]].lo.length, vals = [];
    methods.forEach(function (m) { vals = vals.concat(L.methods[m].lo, L.methods[m].hi || []); });
    if (L.sampled) vals = vals.concat(L.sampled.lo, L.sampled.hi || []);
    if (L.certified) vals = vals.concat(L.certified);
    var lo = Infinity, hi = -Infinity;
    vals.forEach(function (v) { v = num(v); if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    if (!(hi > lo)) { lo -= 1; hi += 1; }
    if (lo > 0) lo = 0;
    if (hi < 0) hi = 0;
    var colw = Math.max(3, Math.min(14, 900 / n)), W = n * colw + 70, H = 200, top = 8, bot = 22;
    function Y(v) { v = num(v); if (!Number.isFinite(v)) v = v > 0 ? hi : lo; return top + (hi - v) / (hi - lo) * (H - top - bot); }
    var root = svg("svg", {width: W, height: H, class: "bounds-layer", "data-node": L.node});
    // axis: zero line and the extremes
    root.appendChild(svg("line", {x1: 60, x2: W, y1: Y(0), y2: Y(0), stroke: "#c0392b", "stroke-width": 0.8}));
    [lo, 0, hi].forEach(function (t) { root.appendChild(svg("text", {x: 56, y: Y(t) + 4, "text-anchor": "end", class: "tick", text: fmt(t, 3)})); });
    var tight = methods.length ? L.methods[methods[methods.length - 1]] : null;
    var unstable = 0;
    for (var i = 0; i < n; i++) {
      var x = 60 + i * colw;
      if (L.relu && tight && num(tight.lo[i]) < 0 && num(tight.hi[i]) > 0) {
        unstable++;
        root.appendChild(svg("rect", {x: x, y: top, width: colw, height: H - top - bot, fill: "#ffe0b2", class: "unstable"}));
      }
      methods.forEach(function (m, k) {
        var b = L.methods[m];
        if (!b.hi) {      // a lower bound only (spec rows): a tick
          root.appendChild(svg("line", {x1: x, x2: x + colw - 1, y1: Y(b.lo[i]), y2: Y(b.lo[i]), stroke: COLORS[m] || "#555", "stroke-width": 2, class: "lb"}));
          return;
        }
        var bw = Math.max(1, (colw - 2) / methods.length);
        root.appendChild(svg("rect", {x: x + 1 + k * bw, y: Y(b.hi[i]), width: Math.max(bw - 0.3, 0.7), height: Math.max(0.8, Y(b.lo[i]) - Y(b.hi[i])),
                                      fill: COLORS[m] || "#555", class: "iv", "data-method": m},
                                  svg("title", {text: L.node + "[" + i + "] " + m + ": [" + fmt(b.lo[i], 5) + ", " + fmt(b.hi[i], 5) + "]"})));
      });
      if (L.sampled) {
        var s = L.sampled, y1 = Y(s.lo[i]), y0 = s.hi ? Y(s.hi[i]) : y1 - 1.5;
        root.appendChild(svg("rect", {x: x + colw / 2 - 1, y: y0, width: 2, height: Math.max(1.5, y1 - y0), fill: "#1d2430", class: "sampled"},
                             svg("title", {text: "sampled (tested): [" + fmt(s.lo[i], 5) + (s.hi ? ", " + fmt(s.hi[i], 5) : "") + "]"})));
      }
      if (L.certified) root.appendChild(svg("circle", {cx: x + colw / 2, cy: Y(L.certified[i]), r: 2.5, fill: "#2e7d32", class: "certified"},
                                            svg("title", {text: "checker (certified) lower bound " + fmt(L.certified[i], 6)})));
    }
    var head = el("h3", {}, L.link ? el("a", {href: "#graph", "data-goto-node": L.link, text: L.node}) : L.node,
                  " \u2014 " + L.size + " values" + (L.size > n ? " (first " + n + " drawn)" : "") +
                  (L.relu ? ", feeds a ReLU: " + unstable + " unstable under " + (methods[methods.length - 1] || "-") + " (shaded)" : ""));
    return el("div", {class: "bounds-panel", "data-node": L.node, "data-unstable": unstable}, head, el("div", {style: "overflow-x:auto"}, root));
  }
};
