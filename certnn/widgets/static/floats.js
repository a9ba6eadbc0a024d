// Float views: a value's bits in each format (tabs; hover a bit for its weight), the
// explain report; and the error budget per node as log-scale bars (bound vs measured).
"use strict";
certnn.mount.floats = function (section, data) {
  var el = certnn.el;
  data.values.forEach(function (v) {
    var card = el("div", {class: "float-card", "data-input": v.input});
    card.appendChild(el("h3", {}, "Input ", el("code", {text: v.input})));
    var tabs = el("div", {class: "tabs"}), pane = el("div", {class: "float-pane"});
    card.appendChild(tabs);
    card.appendChild(pane);
    v.formats.forEach(function (f, k) {
      var b = el("button", {type: "button", text: f.format, "data-format": f.format, onclick: function () { show(k); }});
      tabs.appendChild(b);
    });
    function show(k) {
      tabs.querySelectorAll("button").forEach(function (b, i) { b.classList.toggle("on", i === k); });
      pane.innerHTML = "";
      var f = v.formats[k];
      if (f.error) { pane.appendChild(el("p", {class: "muted", text: f.error})); return; }
      pane.appendChild(bits(f));
      pane.appendChild(el("pre", {class: "float-report", text: f.report}));
    }
    show(v.formats.length > 1 ? 1 : 0);   // binary32 first when there
    section.appendChild(card);
  });

  function bits(f) {
    var box = el("div", {class: "bits", "data-format": f.format});
    for (var i = 0; i < f.bits.length; i++) {
      var cls = i === 0 ? "sign" : i <= f.ebits ? "exp" : "frac";
      var what = i === 0 ? "sign" : i <= f.ebits ? "exponent bit, weight 2^" + (f.ebits - i) + " in the biased exponent (bias " + f.bias + ")"
        : "fraction bit, weight 2^-" + (i - f.ebits) + " of the significand";
      box.appendChild(el("span", {class: "b " + cls, title: what, text: f.bits[i]}));
      if (i === 0 || i === f.ebits) box.appendChild(el("span", {text: " "}));
    }
    var fl = f.fields;
    return el("div", {}, box, el("p", {class: "muted", text: "sign " + fl.sign + " | exponent field " + fl.exponent +
      (fl.exponent_unbiased !== null ? " (2^" + fl.exponent_unbiased + ")" : "") + " | fraction " + fl.fraction + " | " + fl["class"]}));
  }
};

certnn.mount.budget = function (section, data) {
  var el = certnn.el, num = certnn.num, fmt = certnn.fmt;
  var logs = [];
  data.nodes.forEach(function (n) {
    [n.bound, n.measured].forEach(function (v) { v = num(v); if (v > 0 && Number.isFinite(v)) logs.push(Math.log10(v)); });
  });
  if (!logs.length) return;
  var lo = Math.floor(Math.min.apply(null, logs)) - 0.5, hi = Math.ceil(Math.max.apply(null, logs));
  function w(v) { v = num(v); return v > 0 ? Math.max(1, (Math.log10(v) - lo) / (hi - lo) * 420) : 0; }
  var rows = data.nodes.map(function (n) {
    return el("tr", {"data-node": n.node}, el("td", {text: n.node}),
              el("td", {}, el("span", {class: "bar", style: "width:" + w(n.bound) + "px"}), " " + fmt(n.bound), el("br"),
                 n.measured === null || n.measured === undefined ? "not measured" :
                   [el("span", {class: "bar measured", style: "width:" + w(n.measured) + "px"}), " " + fmt(n.measured)]));
  });
  section.appendChild(el("h3", {text: "Bound (blue, checked) vs measured (orange, tested), log scale from 1e" + lo.toFixed(1)}));
  section.appendChild(el("table", {class: "budget-bars"}, el("tbody", {}, rows)));
};
