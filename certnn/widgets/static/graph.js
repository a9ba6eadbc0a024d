// The graph IR view: an SVG drawing of the layered DAG (coordinates come from
// Python), pan/zoom, search by node name or op, and a side panel per node.
"use strict";
certnn.mount.graph = function (section, data) {
  var el = certnn.el, esc = certnn.esc, fmt = certnn.fmt;
  var nodes = data.nodes, W = data.node_w, H = data.node_h;
  var consumers = nodes.map(function () { return []; });
  nodes.forEach(function (n, i) { n.in.forEach(function (j) { consumers[j].push(i); }); });
  var byId = {};
  nodes.forEach(function (n, i) { byId[n.id] = i; });
  var hay = nodes.map(function (n) { return (n.id + " " + n.op + " " + (n.post || []).join(" ")).toLowerCase(); });

  // ---- layout of the widget
  var search = el("input", {type: "search", class: "cg-search", placeholder: "search name or op (op:relu = exact op)"});
  var count = el("span", {class: "cg-count muted"});
  var tools = el("div", {class: "cg-tools"}, search, count,
                 el("button", {type: "button", class: "cg-fit", text: "fit"}),
                 el("button", {type: "button", class: "cg-zoom-in", text: "+"}),
                 el("button", {type: "button", class: "cg-zoom-out", text: "\u2212"}),
                 el("button", {type: "button", class: "cg-export", text: "SVG", title: "download the whole drawing as SVG"}),
                 el("span", {class: "muted", text: nodes.length + " nodes"}));
  var results = el("div", {class: "cg-results"});
  var canvas = certnn.svg("svg", {class: "cg-canvas"});
  var side = el("aside", {class: "cg-side"}, el("p", {class: "muted", text: "Click a node to see its attributes, arrays and op rules."}));
  var root = el("div", {class: "cg"}, el("div", {class: "cg-main"}, tools, results, canvas), side);
  section.appendChild(root);

  // ---- the drawing, built as one string (fast for thousands of nodes)
  var minX = Infinity, maxX = -Infinity, maxY = 0;
  nodes.forEach(function (n) { minX = Math.min(minX, n.x); maxX = Math.max(maxX, n.x); maxY = Math.max(maxY, n.y); });
  // all edges are one path (one element instead of thousands); a selected node's edges
  // are drawn again on top, in the "hot" layer
  function edge(j, i) {
    var a = nodes[j], n = nodes[i], y1 = a.y + H / 2, y2 = n.y - H / 2, dy = (y2 - y1) / 2;
    return "M" + a.x + " " + y1 + "C" + a.x + " " + (y1 + dy) + " " + n.x + " " + (y2 - dy) + " " + n.x + " " + y2;
  }
  var d = [];
  nodes.forEach(function (n, i) { n.in.forEach(function (j) { d.push(edge(j, i)); }); });
  var parts = ['<g class="cg-viewport"><path class="cg-edge" d="' + d.join("") + '"/><g class="cg-hot"></g>'];
  parts.push('<g class="cg-nodes">');
  function isSource(n) { return n.op === "input" || n.op === "param" || n.op === "const"; }
  nodes.forEach(function (n, i) {
    var src = isSource(n);
    parts.push('<g class="cg-node' + (src ? " src-" + n.op : "") + (n.output ? " output" : "") + '" data-i="' + i +
               '" data-id="' + esc(n.id) + '" data-op="' + esc(n.op) + '" transform="translate(' + (n.x - W / 2) + "," +
               (n.y - H / 2) + ')"><rect width="' + W + '" height="' + H + '" rx="5"/></g>');
  });
  parts.push("</g></g>");
  canvas.innerHTML = parts.join("");
  var gNodes = canvas.querySelectorAll(".cg-node"), hot = canvas.querySelector(".cg-hot");
  // labels are made for the nodes in view only, when first seen at a readable scale:
  // laying out the text of thousands of nodes is what makes big SVG drawings slow
  var labelled = new Uint8Array(nodes.length), pending = false;
  function label(i) {
    var n = nodes[i], src = isSource(n);
    var top = src ? n.id : [n.op].concat(n.post || []).join("+"), sub = src ? n.op + " " + n.shape : n.id + " " + n.shape;
    gNodes[i].appendChild(certnn.svg("text", {x: 6, y: 14, text: clip(top, 22)}));
    gNodes[i].appendChild(certnn.svg("text", {x: 6, y: 29, class: "sub", text: clip(sub, 26)}));
    labelled[i] = 1;
  }
  function labelInView() {
    pending = false;
    var s = view.state, r = canvas.getBoundingClientRect();
    if (s.k < 0.4) return;
    var x0 = -s.x / s.k - W, x1 = (r.width - s.x) / s.k + W, y0 = -s.y / s.k - H, y1 = (r.height - s.y) / s.k + H;
    for (var i = 0; i < nodes.length; i++)
      if (!labelled[i] && nodes[i].x >= x0 && nodes[i].x <= x1 && nodes[i].y >= y0 && nodes[i].y <= y1) label(i);
  }
  // level of detail: labels too small to read (zoomed out) are not drawn, which keeps
  // graphs of thousands of nodes fast to render, pan and search
  var view = certnn.zoomable(canvas, canvas.querySelector(".cg-viewport"),
                             {x: minX - W, y: -H, w: maxX - minX + 2 * W, h: maxY + 2 * H},
                             function (k) {
                               canvas.classList.toggle("lod", k < 0.4);
                               if (k >= 0.4 && !pending && view) { pending = true; requestAnimationFrame(labelInView); }
                             });
  labelInView();
  tools.querySelector(".cg-fit").onclick = function () { view.fit(); };
  tools.querySelector(".cg-export").onclick = exportSvg;
  tools.querySelector(".cg-zoom-in").onclick = function () { view.zoomBy(1.4); };
  tools.querySelector(".cg-zoom-out").onclick = function () { view.zoomBy(1 / 1.4); };

  // the whole graph, every node labelled, as a standalone SVG file (styles inlined)
  function exportSvg() {
    for (var i = 0; i < nodes.length; i++) if (!labelled[i]) label(i);
    var copy = canvas.cloneNode(true);
    copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
    copy.setAttribute("viewBox", (minX - W) + " " + (-H) + " " + (maxX - minX + 2 * W) + " " + (maxY + 2 * H));
    copy.classList.remove("lod");
    copy.querySelector(".cg-viewport").removeAttribute("transform");
    copy.insertBefore(certnn.svg("style", {text: ".cg-edge{fill:none;stroke:#a9b3bd}.cg-edge.hot{stroke:#d0342c;stroke-width:2}" +
      ".cg-node rect{fill:#fff;stroke:#7a8794}.src-input rect{fill:#dbeafe}.src-param rect{fill:#fef9c3}.src-const rect{fill:#eceff3}" +
      ".output rect{stroke:#2e7d32;stroke-width:2}.selected rect{stroke:#d0342c;stroke-width:3}.match rect{fill:#ffe08a}" +
      "text{font:12px sans-serif;fill:#1d2430}text.sub{font-size:10px;fill:#5a6470}"}), copy.firstChild);
    var a = el("a", {download: "graph.svg", href: "data:image/svg+xml;charset=utf-8," +
                     encodeURIComponent(new XMLSerializer().serializeToString(copy))});
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  function clip(s, k) { return s.length > k ? s.slice(0, k - 1) + "\u2026" : s; }

  // ---- search
  var lastMatches = [];
  function runSearch(q) {
    q = q.trim().toLowerCase();
    var exactOp = q.indexOf("op:") === 0 ? q.slice(3).trim() : null;
    var matches = [];
    if (q) nodes.forEach(function (n, i) {
      if (exactOp !== null ? n.op.toLowerCase() === exactOp || (n.post || []).indexOf(exactOp) >= 0 : hay[i].indexOf(q) >= 0) matches.push(i);
    });
    var hit = new Uint8Array(nodes.length);
    matches.forEach(function (i) { hit[i] = 1; });
    for (var i = 0; i < gNodes.length; i++) gNodes[i].classList.toggle("match", hit[i] === 1);
    root.classList.toggle("searching", q.length > 0);
    count.textContent = q ? matches.length + " match" + (matches.length === 1 ? "" : "es") : "";
    results.innerHTML = "";
    matches.slice(0, 200).forEach(function (i) {
      results.appendChild(el("a", {"data-i": i, text: nodes[i].id + "  (" + nodes[i].op + " " + nodes[i].shape + ")",
                                   onclick: function () { select(nodes[i].id, true); }}));
    });
    if (matches.length > 200) results.appendChild(el("span", {class: "muted", text: "\u2026 and " + (matches.length - 200) + " more"}));
    lastMatches = matches;
    return matches.length;
  }
  search.addEventListener("input", function () { runSearch(search.value); });
  search.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && lastMatches.length) select(nodes[lastMatches[0]].id, true);
  });

  // ---- selection and the side panel
  canvas.addEventListener("click", function (ev) {
    var g = ev.target.closest(".cg-node");
    if (g) select(g.getAttribute("data-id"), false);
  });
  var selected = null;
  function select(id, center) {
    var i = byId[id];
    if (i === undefined) return false;
    if (selected !== null) gNodes[selected].classList.remove("selected");
    selected = i;
    gNodes[i].classList.add("selected");
    hot.innerHTML = "";
    nodes[i].in.map(function (j) { return edge(j, i); }).concat(consumers[i].map(function (c) { return edge(i, c); }))
      .forEach(function (p) { hot.appendChild(certnn.svg("path", {class: "cg-edge hot", d: p})); });
    if (center) view.center(nodes[i].x, nodes[i].y, Math.max(view.state.k, 0.8));
    side.innerHTML = "";
    side.appendChild(panel(i));
    return true;
  }

  function link(j) {
    return el("a", {href: "#", class: "cg-link", text: nodes[j].id,
                    onclick: function (ev) { ev.preventDefault(); select(nodes[j].id, true); }});
  }

  function kv(rows) {
    return el("table", {}, el("tbody", {}, rows.map(function (r) { return el("tr", {}, el("th", {text: r[0]}), el("td", {}, r[1])); })));
  }

  function panel(i) {
    var n = nodes[i], box = el("div", {class: "cg-panel", "data-node": n.id});
    box.appendChild(el("h3", {class: "cg-title", text: n.id}));
    box.appendChild(kv([["op", [n.op].concat(n.post || []).join(" \u2192 ")], ["shape", n.shape], ["dtype", n.dtype],
                        ["inputs", n.in.length ? n.in.map(function (j, k) { return [k ? ", " : "", link(j)]; }) : "\u2014"],
                        ["consumers", consumers[i].length ? consumers[i].map(function (j, k) { return [k ? ", " : "", link(j)]; }) : "\u2014"],
                        ["graph output", n.output ? "yes" : "no"]]));
    if (n.attrs) {
      box.appendChild(el("h3", {text: "Attributes"}));
      box.appendChild(kv(Object.keys(n.attrs).map(function (k) { return [k, el("code", {text: n.attrs[k]})]; })));
    }
    [["Array statistics", n.stats], ["Value at the sample inputs (computed)", n.values]].forEach(function (pair) {
      var s = pair[1];
      if (!s) return;
      box.appendChild(el("h3", {text: pair[0]}));
      box.appendChild(kv([["shape", "(" + s.shape.join(", ") + ")"], ["dtype", s.dtype], ["values", s.size],
                          ["min / max", fmt(s.min) + " / " + fmt(s.max)], ["mean \u00b1 std", fmt(s.mean) + " \u00b1 " + fmt(s.std)],
                          ["L2 norm", fmt(s.l2)], ["zeros", s.zeros], ["non-finite", s.nonfinite]].filter(function (r) {
                            return r[1] !== undefined && String(r[1]).indexOf("undefined") < 0; })));
    });
    [n.op].concat(n.post || []).forEach(function (op) { if (data.ops[op]) box.appendChild(opPanel(data.ops[op])); });
    return box;
  }

  function opPanel(info) {
    var box = el("div", {class: "cg-op", "data-op": info.name});
    box.appendChild(el("h3", {text: "Op " + info.name + " (op table)"}));
    box.appendChild(kv([["module", el("code", {text: info.module})], ["inputs", info.arity.join(" or ").replace("-1", "any number")],
                        ["flags", info.flags.join(", ") || "\u2014"],
                        ["formula", info.formula ? el("code", {text: info.formula}) : "\u2014"],
                        ["attributes", Object.keys(info.attrs).length ? Object.keys(info.attrs).map(function (k) { return k + "=" + info.attrs[k]; }).join(", ") : "\u2014"]]));
    var rows = info.rules.map(function (r) {
      var tests = el("ul", {}, r.tests.map(function (t) {
        return el("li", {}, el("span", {class: "ev ev-" + t.evidence, text: t.evidence}), " ", t.checks, el("br"), el("code", {text: t.test}));
      }));
      var theorems = el("ul", {class: "cg-theorems"}, r.theorems.map(function (t) {
        return el("li", {"data-theorem": t.name}, el("span", {class: "ev ev-" + t.evidence, text: t.evidence}), " ",
                  el("code", {text: t.name}), ": " + t.statement, el("br"), el("span", {class: "muted", text: "domain: " + t.domain}));
      }));
      var detail = el("details", {}, el("summary", {text: r.present ? (r.where || "") : (r.gap || "missing")}),
                      r.doc ? el("pre", {text: r.doc}) : el("p", {class: "muted", text: "no docstring"}),
                      r.assumptions.length ? el("p", {}, "rests on: ", el("code", {text: r.assumptions.join(", ")})) : null,
                      r.theorems.length ? [el("p", {}, el("b", {text: "theorems (certnn prove)"})), theorems] : null,
                      r.tests.length ? [el("p", {}, el("b", {text: "conformance tests"})), tests] : null);
      return el("tr", {"data-rule": r.rule, "data-present": r.present ? "yes" : "no"},
                el("td", {}, el("b", {text: r.rule})),
                el("td", {class: r.present ? "rule-yes" : "rule-no", text: r.present ? "yes" : "no"}),
                el("td", {}, r.theorems.length ? el("span", {class: "ev ev-" + r.theorems[0].evidence, text: r.theorems.length + " theorem" + (r.theorems.length > 1 ? "s" : "")}) : null,
                   r.tests.length ? " " + r.tests.length + " test" + (r.tests.length > 1 ? "s" : "") : null),
                el("td", {}, detail));
    });
    box.appendChild(el("table", {class: "cg-rules"}, el("thead", {}, el("tr", {}, el("th", {text: "rule"}), el("th", {text: "has"}), el("th", {text: "evidence"}),
                                                                              el("th", {text: "definition, docstring, theorems, conformance tests"}))),
                       el("tbody", {}, rows)));
    box.appendChild(el("details", {}, el("summary", {text: "op documentation"}), el("pre", {text: info.doc || "(none)"})));
    return box;
  }

  var api = {section: section, select: select, search: function (q) { search.value = q; return runSearch(q); }, view: view};
  certnn.graphs.push(api);
  section.certnnGraph = api;
};
