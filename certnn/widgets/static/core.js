// certnn widgets: shared helpers and the mounting of every view on the page.
// Each <section class="certnn-view" data-kind="K"> carries its data as JSON in a
// <script class="certnn-data"> child; certnn.mount[K](section, data) renders it.
"use strict";
var certnn = (function () {
  var SVGNS = "http://www.w3.org/2000/svg";

  // JSON carries non-finite numbers as the strings "inf", "-inf", "nan".
  function num(v) {
    if (typeof v === "number") return v;
    if (v === "inf") return Infinity;
    if (v === "-inf") return -Infinity;
    if (v === "nan" || v === null || v === undefined) return NaN;
    return Number(v);
  }

  function fmt(v, digits) {
    v = num(v);
    if (Number.isNaN(v)) return "nan";
    if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
    if (v === 0) return "0";
    var a = Math.abs(v);
    if (a >= 1e5 || a < 1e-3) return v.toExponential((digits || 4) - 1);
    return String(Number(v.toPrecision(digits || 4)));
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  // el("div", {class: "x", onclick: f}, child, "text", ...)
  function el(tag, attrs) {
    var e = document.createElement(tag);
    setAttrs(e, attrs);
    for (var i = 2; i < arguments.length; i++) append(e, arguments[i]);
    return e;
  }

  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    for (var i = 2; i < arguments.length; i++) append(e, arguments[i]);
    return e;
  }

  function setAttrs(e, attrs) {
    for (var k in attrs || {}) {
      if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), attrs[k]);
      else if (k === "text") e.textContent = attrs[k];
      else if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
    }
  }

  function append(e, c) {
    if (c === null || c === undefined) return;
    if (Array.isArray(c)) { c.forEach(function (x) { append(e, x); }); return; }
    e.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }

  // ---------------------------------------------------------------- pan and zoom
  // Wheel zooms around the pointer, dragging pans; onzoom(k) hears every change of scale;
  // returns {fit, zoomBy, center, state}.
  function zoomable(svgEl, g, bbox, onzoom) {
    var s = {x: 0, y: 0, k: 1};
    function apply() {
      g.setAttribute("transform", "translate(" + s.x + "," + s.y + ") scale(" + s.k + ")");
      if (onzoom) onzoom(s.k);
    }
    function size() { var r = svgEl.getBoundingClientRect(); return [r.width || 800, r.height || 600]; }
    function fit() {
      var wh = size(), w = Math.max(bbox.w, 1), h = Math.max(bbox.h, 1);
      s.k = Math.min(wh[0] / w, wh[1] / h, 2) * 0.95;
      s.x = (wh[0] - w * s.k) / 2 - bbox.x * s.k;
      s.y = (wh[1] - h * s.k) / 2 - bbox.y * s.k;
      apply();
    }
    function zoomBy(f, px, py) {
      var wh = size();
      if (px === undefined) { px = wh[0] / 2; py = wh[1] / 2; }
      var k = Math.max(1e-4, Math.min(20, s.k * f));
      s.x = px - (px - s.x) * (k / s.k);
      s.y = py - (py - s.y) * (k / s.k);
      s.k = k;
      apply();
    }
    function center(x, y, k) {
      var wh = size();
      if (k) s.k = k;
      s.x = wh[0] / 2 - x * s.k;
      s.y = wh[1] / 2 - y * s.k;
      apply();
    }
    svgEl.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var r = svgEl.getBoundingClientRect();
      zoomBy(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
    }, {passive: false});
    var drag = null;
    svgEl.addEventListener("pointerdown", function (ev) {
      drag = {x: ev.clientX, y: ev.clientY, sx: s.x, sy: s.y, moved: false};
    });
    window.addEventListener("pointermove", function (ev) {
      if (!drag) return;
      var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      s.x = drag.sx + dx; s.y = drag.sy + dy;
      apply();
    });
    window.addEventListener("pointerup", function () { drag = null; });
    fit();
    return {fit: fit, zoomBy: zoomBy, center: center, state: s};
  }

  // ---------------------------------------------------------------- charts
  function ticks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; lo = lo - 1; }
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
    var err = (hi - lo) / n / step;
    step *= err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1;
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }

  function finiteExtent(vals) {
    var lo = Infinity, hi = -Infinity;
    vals.forEach(function (v) { v = num(v); if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    return [lo, hi];
  }

  // An extent with room for ticks: [v - 1, v + 1] when it is flat, or narrower than the rounding of its
  // numbers (-100 to -99.99999999999997 would give ticks too fine to advance); [0, 1] when empty.
  function widen(e) {
    if (!Number.isFinite(e[0])) return [0, 1];
    return e[1] - e[0] > 1e-9 * Math.max(Math.abs(e[0]), Math.abs(e[1])) ? e : [e[0] - 1, e[0] + 1];
  }

  // A line chart. opts: {series: [{name, x, y, color, dash, width, points}], bands: [{name, x0, x1, lo, hi, color}],
  // hlines: [{y, color, label}], xlabel, ylabel, logy, width, height, title}
  function chart(opts) {
    var W = opts.width || 640, H = opts.height || 280, m = {l: 64, r: 16, t: opts.title ? 24 : 10, b: 40};
    var xs = [], ys = [];
    (opts.series || []).forEach(function (s) { xs = xs.concat(s.x); ys = ys.concat(s.y); });
    (opts.bands || []).forEach(function (b) { xs = xs.concat(b.x0, b.x1); ys = ys.concat(b.lo, b.hi); });
    (opts.hlines || []).forEach(function (h) { ys.push(h.y); });
    var tr = opts.logy ? function (v) { return v > 0 ? Math.log10(v) : NaN; } : function (v) { return v; };
    var xe = opts.xrange || finiteExtent(xs), ye = opts.yrange || finiteExtent(ys.map(function (v) { return tr(num(v)); }));
    xe = widen(xe); ye = widen(ye);
    var pad = (ye[1] - ye[0]) * 0.05; ye = [ye[0] - pad, ye[1] + pad];
    function X(v) { return m.l + (num(v) - xe[0]) / (xe[1] - xe[0]) * (W - m.l - m.r); }
    function Y(v) { var t = tr(num(v)); return H - m.b - (t - ye[0]) / (ye[1] - ye[0]) * (H - m.t - m.b); }
    function clampY(v) { var y = Y(v); return Number.isFinite(y) ? Math.max(m.t, Math.min(H - m.b, y)) : (num(v) > 0 ? m.t : H - m.b); }
    var root = svg("svg", {class: "chart", viewBox: "0 0 " + W + " " + H, width: W, height: H});
    if (opts.title) root.appendChild(svg("text", {x: m.l, y: 15, class: "chart-title", text: opts.title}));
    ticks(xe[0], xe[1], 6).forEach(function (t) {
      root.appendChild(svg("line", {x1: X(t), x2: X(t), y1: m.t, y2: H - m.b, class: "grid"}));
      root.appendChild(svg("text", {x: X(t), y: H - m.b + 14, "text-anchor": "middle", class: "tick", text: fmt(t, 3)}));
    });
    ticks(ye[0], ye[1], 5).forEach(function (t) {
      var y = H - m.b - (t - ye[0]) / (ye[1] - ye[0]) * (H - m.t - m.b);
      root.appendChild(svg("line", {x1: m.l, x2: W - m.r, y1: y, y2: y, class: "grid"}));
      root.appendChild(svg("text", {x: m.l - 4, y: y + 4, "text-anchor": "end", class: "tick",
                                    text: opts.logy ? "1e" + t : fmt(t, 3)}));
    });
    root.appendChild(svg("rect", {x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, class: "frame"}));
    (opts.bands || []).forEach(function (b) {
      var g = svg("g", {class: "band", "data-name": b.name || ""});
      for (var i = 0; i < b.lo.length; i++) {
        var x0 = X(b.x0[i]), x1 = X(b.x1[i]), y0 = clampY(b.hi[i]), y1 = clampY(b.lo[i]);
        g.appendChild(svg("rect", {x: x0, y: y0, width: Math.max(x1 - x0, 1), height: Math.max(y1 - y0, 0.5),
                                   fill: b.color || "#4a90d9", "fill-opacity": b.opacity || 0.35}));
      }
      root.appendChild(g);
    });
    (opts.hlines || []).forEach(function (h) {
      var y = clampY(h.y);
      root.appendChild(svg("line", {x1: m.l, x2: W - m.r, y1: y, y2: y, stroke: h.color || "#c0392b",
                                    "stroke-dasharray": h.dash || "", class: "hline"}));
      if (h.label) root.appendChild(svg("text", {x: W - m.r - 4, y: y - 3, "text-anchor": "end", class: "tick",
                                                 fill: h.color || "#c0392b", text: h.label}));
    });
    (opts.series || []).forEach(function (s) {
      var d = "", pen = false;
      for (var i = 0; i < s.x.length; i++) {
        var y = Y(s.y[i]), x = X(s.x[i]);
        if (!Number.isFinite(y)) { pen = false; continue; }
        d += (pen ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
        pen = true;
      }
      root.appendChild(svg("path", {d: d, class: "series", stroke: s.color || "#333", "stroke-width": s.width != null ? s.width : 1.5,
                                    "stroke-dasharray": s.dash || "", fill: "none", "data-name": s.name || "",
                                    "stroke-opacity": s.opacity || 1}));
      if (s.points) s.x.forEach(function (xv, i) {
        var y = Y(s.y[i]);
        if (Number.isFinite(y)) root.appendChild(svg("circle", {cx: X(xv), cy: y, r: 2.5, fill: s.color || "#333"}));
      });
    });
    if (opts.xlabel) root.appendChild(svg("text", {x: (W + m.l) / 2, y: H - 6, "text-anchor": "middle", class: "label", text: opts.xlabel}));
    if (opts.ylabel) root.appendChild(svg("text", {x: 12, y: (H - m.b + m.t) / 2, "text-anchor": "middle", class: "label",
                                                    transform: "rotate(-90 12 " + (H - m.b + m.t) / 2 + ")", text: opts.ylabel}));
    var named = (opts.series || []).concat(opts.bands || []).filter(function (s) { return s.name && !s.nolegend; });
    var seen = {};
    var legend = el("div", {class: "chart-legend"});
    named.forEach(function (s) {
      if (seen[s.name]) return;
      seen[s.name] = 1;
      legend.appendChild(el("span", {}, el("i", {style: "background:" + (s.color || "#333")}), s.name));
    });
    return el("figure", {class: "chart-box"}, root, named.length ? legend : null);
  }

  // A heat map of grid[row][col] with a colour bar; opts: {grid, title, xlabel, ylabel, arrows, marks, diverging,
  // extent: [lo, hi] of the colour scale (default: the grid's)}
  function heatmap(opts) {
    var g = opts.grid, R = g.length, C = R ? g[0].length : 0, cell = opts.cell || Math.max(4, Math.min(40, 360 / Math.max(R, C)));
    var flat = [].concat.apply([], g).map(num), ext = opts.extent || finiteExtent(flat);
    if (opts.diverging) { var a = Math.max(Math.abs(ext[0]), Math.abs(ext[1])); ext = [-a, a]; }
    var W = C * cell + 90, H = R * cell + 30;
    var root = svg("svg", {class: "heatmap", width: W, height: H, viewBox: "0 0 " + W + " " + H});
    for (var r = 0; r < R; r++) for (var c = 0; c < C; c++) {
      var v = num(g[r][c]);
      root.appendChild(svg("rect", {x: c * cell, y: r * cell, width: cell, height: cell, fill: colour(v, ext, opts.diverging),
                                    class: "hm-cell", "data-r": r, "data-c": c},
                           svg("title", {text: (opts.cellTitle ? opts.cellTitle(r, c) + ": " : "") + fmt(v, 5)})));
    }
    (opts.arrows || []).forEach(function (a) {     // {r, c, dx, dy}
      var cx = (a.c + 0.5) * cell, cy = (a.r + 0.5) * cell, L = cell * 0.35;
      root.appendChild(svg("line", {x1: cx - a.dx * L, y1: cy - a.dy * L, x2: cx + a.dx * L, y2: cy + a.dy * L,
                                    class: "arrow", "marker-end": "url(#certnn-arrowhead)"}));
    });
    (opts.marks || []).forEach(function (mk) {
      root.appendChild(svg("text", {x: (mk.c + 0.5) * cell, y: (mk.r + 0.5) * cell + 4, "text-anchor": "middle",
                                    class: "hm-mark", text: mk.text}));
    });
    root.appendChild(svg("defs", {}, svg("marker", {id: "certnn-arrowhead", markerWidth: 6, markerHeight: 6, refX: 3, refY: 3,
                                                    orient: "auto"}, svg("path", {d: "M0,0 L6,3 L0,6 z", fill: "#111"}))));
    for (var i = 0; i < 40; i++) {
      var t = ext[0] + (ext[1] - ext[0]) * (1 - i / 39);
      root.appendChild(svg("rect", {x: C * cell + 12, y: i * (R * cell) / 40, width: 12, height: R * cell / 40 + 0.5,
                                    fill: colour(t, ext, opts.diverging)}));
    }
    root.appendChild(svg("text", {x: C * cell + 28, y: 10, class: "tick", text: fmt(ext[1], 3)}));
    root.appendChild(svg("text", {x: C * cell + 28, y: R * cell, class: "tick", text: fmt(ext[0], 3)}));
    return el("figure", {class: "chart-box"}, opts.title ? el("figcaption", {text: opts.title}) : null, root);
  }

  // A grayscale image (values in [0, 1]) on a canvas: cheap for many pixels.
  function image(grid, scale, caption) {
    var R = grid.length, C = R ? grid[0].length : 0, s = scale || 3;
    var cv = el("canvas", {width: C * s, height: R * s, class: "thumb"});
    var ctx = cv.getContext("2d");
    for (var r = 0; r < R; r++) for (var c = 0; c < C; c++) {
      var v = Math.round(255 * Math.max(0, Math.min(1, num(grid[r][c]))));
      ctx.fillStyle = rgb(v, v, v);
      ctx.fillRect(c * s, r * s, s, s);
    }
    return el("figure", {class: "chart-box"}, cv, caption ? el("figcaption", {text: caption}) : null);
  }

  function colour(v, ext, diverging) {
    if (!Number.isFinite(v)) return "#bbb";
    var t = ext[1] > ext[0] ? (v - ext[0]) / (ext[1] - ext[0]) : 0.5;
    t = Math.max(0, Math.min(1, t));
    if (diverging) {   // blue - white - red
      var u = Math.abs(t - 0.5) * 2;
      return t < 0.5 ? rgb(255 - 200 * u, 255 - 150 * u, 255) : rgb(255, 255 - 190 * u, 255 - 200 * u);
    }
    // viridis-like ramp
    var stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    var p = t * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(p)), f = p - i;
    return rgb.apply(null, [0, 1, 2].map(function (k) { return stops[i][k] + (stops[i + 1][k] - stops[i][k]) * f; }));
  }

  function rgb(r, g, b) { return "rgb(" + Math.round(r) + "," + Math.round(g) + "," + Math.round(b) + ")"; }

  // ---------------------------------------------------------------- links between views
  // <a data-goto-node="ID"> selects node ID in the page's graph view and scrolls to it.
  var graphs = [];
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("[data-goto-node]");
    if (!a || !graphs.length) return;
    ev.preventDefault();
    graphs[0].select(a.getAttribute("data-goto-node"), true);
    graphs[0].section.scrollIntoView();
  });

  var mount = {};
  function mountAll() {
    var t0 = performance.now();
    document.querySelectorAll("section.certnn-view[data-kind]").forEach(function (sec) {
      var kind = sec.getAttribute("data-kind"), node = sec.querySelector(":scope > script.certnn-data");
      if (!mount[kind]) { console.error("certnn: no renderer for view kind " + kind); return; }
      try {
        mount[kind](sec, node ? JSON.parse(node.textContent) : {});
      } catch (e) {
        console.error("certnn: rendering " + kind + " failed: " + e);
        sec.appendChild(el("p", {class: "render-error", text: "rendering failed: " + e}));
      }
    });
    window.certnnTimings = {mount_ms: performance.now() - t0, ready_ms: performance.now()};
    document.body.setAttribute("data-ready", "1");
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else setTimeout(mountAll, 0);

  return {num: num, fmt: fmt, esc: esc, el: el, svg: svg, zoomable: zoomable, chart: chart, heatmap: heatmap, image: image,
          colour: colour, mount: mount, graphs: graphs};
})();
