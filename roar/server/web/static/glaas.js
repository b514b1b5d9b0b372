/* GLaaS pages: copy buttons, and the DAG view (cytoscape + dagre, vendored).
   Each .dag element draws the graph in the JSON script beside it; clicking
   a node opens that job's or artifact's page. */
(function () {
  "use strict";

  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-copy]");
    if (!button) return;
    var text = button.getAttribute("data-copy");
    var done = function () {
      button.textContent = "copied";
      setTimeout(function () { button.textContent = "copy"; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
    function fallback() {
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
      done();
    }
  });

  if (typeof cytoscape === "undefined") return;
  cytoscape.use(cytoscapeDagre);
  window.glaasDags = [];

  // Past this size, layout cost matters more than drawing each file once.
  var BIG = 150;

  // A root input read by many steps (a config, a script) would draw edges
  // across every rank, and dagre would lay out thousands of dummy nodes for
  // them. On big graphs such inputs are left out of the layout and placed
  // afterwards, in a row above their first reader.
  function splitSharedRoots(graph) {
    var incoming = {}, outgoing = {};
    graph.edges.forEach(function (e) {
      incoming[e.target] = true;
      (outgoing[e.source] = outgoing[e.source] || []).push(e);
    });
    var shared = {}, core = [], later = [];
    graph.nodes.forEach(function (n) {
      var outs = outgoing[n.id] || [];
      if (n.kind === "artifact" && !incoming[n.id] && outs.length > 2) {
        shared[n.id] = true;
        later.push({ node: n, edges: outs });
      } else {
        core.push(n);
      }
    });
    var edges = graph.edges.filter(function (e) { return !shared[e.source]; });
    return { core: { nodes: core, edges: edges }, shared: later };
  }

  function elementsOf(graph, focus) {
    return graph.nodes.map(function (n) {
      return { data: n, classes: [n.kind, n.stale ? "stale" : "", n.exit_code ? "failed" : "",
                                  n.id === focus ? "focus" : ""].join(" ") };
    }).concat(graph.edges.map(function (e) {
      return { data: { id: e.source + ">" + e.target, source: e.source, target: e.target } };
    }));
  }

  function placeShared(cy, shared) {
    if (!shared.length) return;
    var top = cy.nodes().boundingBox().y1 - 60;
    shared.forEach(function (item, k) {
      var first = cy.getElementById(item.edges[0].target).position();
      cy.add(elementsOf({ nodes: [item.node], edges: [] }, "")[0]).position({
        x: first.x, y: top - 30 * (k % 3) });
      cy.add(elementsOf({ nodes: [], edges: item.edges }, ""));
    });
    cy.fit(undefined, 20);
  }

  function draw(el) {
    var graph = JSON.parse(el.parentNode.querySelector(".dag-data").textContent);
    var big = graph.nodes.length > BIG;
    var split = big ? splitSharedRoots(graph) : { core: graph, shared: [] };
    var focus = el.getAttribute("data-focus");
    var elements = elementsOf(split.core, focus);
    var cy = cytoscape({
      container: el,
      elements: elements,
      minZoom: 0.05,
      maxZoom: 3,
      textureOnViewport: big,
      hideEdgesOnViewport: big,
      pixelRatio: big ? 1 : "auto",
      style: [
        { selector: "node", style: {
            "label": "data(label)", "font-size": 11, "text-valign": "center", "text-halign": "center",
            "min-zoomed-font-size": 7, "text-wrap": "ellipsis", "text-max-width": 150 } },
        { selector: "node.job", style: {
            "shape": "round-rectangle", "width": 170, "height": 30, "background-color": "#dbe9ff",
            "border-width": 1, "border-color": "#1f6feb" } },
        { selector: "node.artifact", style: {
            "shape": "ellipse", "width": 120, "height": 24, "background-color": "#f1f3f5",
            "border-width": 1, "border-color": "#8c959f", "font-size": 10, "text-max-width": 110 } },
        { selector: "node.stale", style: { "border-color": "#e08a00", "border-width": 3, "border-style": "dashed" } },
        { selector: "node.failed", style: { "border-color": "#c62828", "border-width": 2 } },
        { selector: "node.focus", style: { "background-color": "#ffe08a", "border-width": 3 } },
        { selector: "node:selected", style: { "border-color": "#000", "border-width": 3 } },
        { selector: "edge", style: {
            "width": 1.2, "line-color": "#9aa4ad", "target-arrow-color": "#9aa4ad",
            "target-arrow-shape": "triangle", "arrow-scale": 0.8, "curve-style": big ? "haystack" : "bezier" } }
      ],
      layout: { name: "dagre", rankDir: "LR", nodeSep: 12, rankSep: 50, edgeSep: 6, fit: true,
                padding: 20, ranker: big ? "longest-path" : "network-simplex" }
    });
    placeShared(cy, split.shared);
    // Small graphs fit at a readable size rather than blown up.
    if (cy.zoom() > 1.2) { cy.zoom(1.2); cy.center(); }
    cy.on("tap", "node", function (evt) {
      var url = evt.target.data("url");
      if (url) window.location.href = url;
    });
    var fit = el.parentNode.querySelector(".dag-fit");
    if (fit) fit.addEventListener("click", function () { cy.fit(undefined, 20); });
    window.glaasDags.push(cy);
    window.glaasDagReadyMs = performance.now();
    el.setAttribute("data-ready", "1");
  }

  // The page's facts paint first; the graph is laid out right after.
  document.querySelectorAll(".dag").forEach(function (el) {
    requestAnimationFrame(function () { setTimeout(function () { draw(el); }, 0); });
  });
})();
