// The autograd tape: forward order on the left, backward order on the right, a line
// joining each tensor's two positions, and log-scale gradient-norm bars.
"use strict";
certnn.mount.tape = function (section, data) {
  var el = certnn.el, svg = certnn.svg, fmt = certnn.fmt, num = certnn.num;
  var fwd = data.nodes, bwd = fwd.filter(function (r) { return r.bwd !== null; }).sort(function (a, b) { return a.bwd - b.bwd; });
  var row = 20, W = 960, H = Math.max(fwd.length, bwd.length) * row + 30, xl = 10, xr = 520;
  var logs = bwd.map(function (r) { return r.grad_norm > 0 ? Math.log10(r.grad_norm) : null; }).filter(function (v) { return v !== null; });
  var lo = logs.length ? Math.floor(Math.min.apply(null, logs)) : 0, hi = logs.length ? Math.ceil(Math.max.apply(null, logs)) : 1;
  if (hi === lo) hi = lo + 1;
  var root = svg("svg", {width: W, height: H, class: "tape"});
  root.appendChild(svg("text", {x: xl, y: 14, class: "label", text: "forward (creation order)"}));
  root.appendChild(svg("text", {x: xr, y: 14, class: "label", text: "backward sweep, gradient norm (log scale 1e" + lo + " \u2026 1e" + hi + ")"}));
  var posF = {}, posB = {};
  fwd.forEach(function (r, i) { posF[r.name] = 30 + i * row; });
  bwd.forEach(function (r, i) { posB[r.name] = 30 + i * row; });
  bwd.forEach(function (r) {
    root.appendChild(svg("line", {x1: xl + 330, y1: posF[r.name] - 4, x2: xr - 6, y2: posB[r.name] - 4, stroke: "#c7ced6"}));
  });
  fwd.forEach(function (r) {
    var label = r.name + " = " + r.op + (r.inputs.length ? "(" + r.inputs.join(", ") + ")" : "") + "  [" + r.shape.join("\u00d7") + "]";
    root.appendChild(svg("text", {x: xl, y: posF[r.name], class: "tick tape-fwd", "data-name": r.name, text: label.length > 48 ? label.slice(0, 47) + "\u2026" : label},
                         svg("title", {text: label + (r.value_norm !== null ? ", value norm " + fmt(r.value_norm) : "")})));
  });
  bwd.forEach(function (r) {
    var g = num(r.grad_norm), w = g > 0 ? (Math.log10(g) - lo) / (hi - lo) * 220 : 0;
    root.appendChild(svg("text", {x: xr, y: posB[r.name], class: "tick tape-bwd", "data-name": r.name, text: r.name + " (" + r.op + ")"}));
    root.appendChild(svg("rect", {x: xr + 150, y: posB[r.name] - 10, width: Math.max(w, 1), height: 11, fill: r.op === "param" ? "#e67e22" : "#4a90d9"},
                         svg("title", {text: "gradient norm " + fmt(g, 6)})));
    root.appendChild(svg("text", {x: xr + 156 + w, y: posB[r.name], class: "tick", text: fmt(g)}));
  });
  section.appendChild(el("div", {style: "overflow-x:auto"}, root));
};
