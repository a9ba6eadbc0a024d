// Certificate views: input thumbnails of a robustness certificate; the split tree of a
// branch-and-bound certificate (as a nested list, and for input splits the leaf boxes
// projected on the two most-split inputs). Display only: the verdicts are the checker's.
"use strict";
certnn.mount.certificate = function (section, data) {
  if (!data.images || !data.images.length) return;
  var box = certnn.el("div", {class: "thumbs"}, certnn.el("h3", {text: "Region centers (first " + data.images.length + " examples)"}));
  data.images.forEach(function (img, i) {
    box.appendChild(certnn.image(img, 3, "example " + i));
  });
  section.appendChild(box);
};

certnn.mount.bab = function (section, data) {
  var el = certnn.el;
  data.cases.forEach(function (c, k) {
    var parsed = parse(c.tree);
    var box = el("div", {class: "bab-case", "data-case": k});
    box.appendChild(el("h3", {text: "Case " + k + ": " + c.kind + " splits, " + parsed.leaves + " leaves, " + parsed.splits +
                                    " splits, depth " + parsed.depth + (c.truncated ? " (first " + c.tree.length + " of " + c.size + " entries drawn)" : "")}));
    box.appendChild(el("p", {class: "muted", text: "leaf certificate: " + c.leaves_file}));
    if (c.kind === "input" && c.root_lo) box.appendChild(partition(parsed.root, c));
    var tree = el("div", {class: "tree"});
    tree.appendChild(el("ul", {}, render(parsed.root, c, 0)));
    box.appendChild(tree);
    section.appendChild(box);
  });

  // preorder entries [dim, value] / [-1, row] -> nested nodes (iterative: trees can be deep)
  function parse(entries) {
    var root = null, stack = [], leaves = 0, splits = 0, depth = 0;
    entries.forEach(function (e) {
      var node = e[0] === -1 ? {leaf: e[1]} : {dim: e[0], value: e[1], kids: []};
      if (node.kids) splits++; else leaves++;
      if (!root) root = node;
      else {
        var parent = stack[stack.length - 1];
        parent.kids.push(node);
        if (parent.kids.length === 2) stack.pop();
      }
      node.depth = stack.length;
      depth = Math.max(depth, node.depth);
      if (node.kids) stack.push(node);
    });
    return {root: root, leaves: leaves, splits: splits, depth: depth};
  }

  function label(node, side, c) {
    if (c.kind === "relu") {
      var name = c.split_nodes[node.dim] || ("layer " + node.dim);
      return name + "[" + node.value + "] " + (side === 0 ? "\u2265 0" : "\u2264 0");
    }
    return "x_" + node.dim + (side === 0 ? " \u2264 " : " \u2265 ") + certnn.fmt(node.value, 6);
  }

  function render(node, c, depth) {
    if (!node) return null;
    if (node.leaf !== undefined) return el("li", {class: "leaf", text: "leaf \u2192 row " + node.leaf});
    return node.kids.map(function (kid, side) {
      var d = el("details", depth < 3 ? {open: ""} : {}, el("summary", {class: "split", text: label(node, side, c)}),
                 el("ul", {}, render(kid, c, depth + 1)));
      return el("li", {}, d);
    });
  }

  // leaf boxes from the root box by the split rule, drawn on the two most-split inputs
  function partition(root, c) {
    var counts = {}, boxes = [];
    (function walk(node, lo, hi) {
      if (!node) return;
      if (node.leaf !== undefined) { boxes.push({lo: lo, hi: hi, row: node.leaf}); return; }
      counts[node.dim] = (counts[node.dim] || 0) + 1;
      var aHi = hi.slice(), bLo = lo.slice();
      aHi[node.dim] = node.value; bLo[node.dim] = node.value;
      walk(node.kids[0], lo, aHi);
      walk(node.kids[1], bLo, hi);
    })(root, c.root_lo.map(certnn.num), c.root_hi.map(certnn.num));
    var dims = Object.keys(counts).map(Number).sort(function (a, b) { return counts[b] - counts[a]; });
    var dx = dims.length ? dims[0] : 0, dy = dims.length > 1 ? dims[1] : (dx === 0 ? 1 : 0);
    if (dy >= c.root_lo.length) dy = dx;
    var W = 360, H = 360, lo = c.root_lo.map(certnn.num), hi = c.root_hi.map(certnn.num);
    function X(v) { return 30 + (v - lo[dx]) / ((hi[dx] - lo[dx]) || 1) * W; }
    function Y(v) { return 10 + H - (v - lo[dy]) / ((hi[dy] - lo[dy]) || 1) * H; }
    var svg = certnn.svg("svg", {width: W + 40, height: H + 40, class: "bab-partition"});
    boxes.forEach(function (b) {
      svg.appendChild(certnn.svg("rect", {x: X(b.lo[dx]), y: Y(b.hi[dy]), width: Math.max(0.5, X(b.hi[dx]) - X(b.lo[dx])),
                                          height: Math.max(0.5, Y(b.lo[dy]) - Y(b.hi[dy])), fill: "#e6f4ea", stroke: "#2e7d32",
                                          "stroke-width": 0.6, class: "bab-leaf"},
                                 certnn.svg("title", {text: "leaf row " + b.row})));
    });
    svg.appendChild(certnn.svg("text", {x: 30 + W / 2, y: H + 34, "text-anchor": "middle", class: "tick", text: "x_" + dx}));
    svg.appendChild(certnn.svg("text", {x: 12, y: 10 + H / 2, class: "tick", text: "x_" + dy}));
    return certnn.el("figure", {class: "chart-box"}, certnn.el("figcaption", {text: "leaf boxes on inputs x_" + dx + " and x_" + dy +
      " (projection; every leaf was re-derived by the checker when the verdict says accepted)"}), svg);
  }
};
