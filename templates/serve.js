// riskchart serve: keep this page current.  The server sends its state
// (server-sent events) after every build: the chart page swaps its drawing
// and text, the index page reloads when the index changed, and both show
// the build's errors over the page and its warnings in a corner.  All text
// goes in through textContent; nothing from the state becomes HTML.
(function () {
  "use strict";
  var me = document.currentScript;
  var page = me.getAttribute("data-page");
  var value = me.getAttribute("data-value");  // the chart's key, or the version of the index served
  var instance = me.getAttribute("data-instance");
  var shownVersion = null;

  if (page === "index") {
    var style = document.createElement("link");
    style.rel = "stylesheet";
    style.href = "/_riskchart/serve.css";
    document.head.appendChild(style);
  }

  function box(id) {
    var found = document.getElementById(id);
    if (!found) {
      found = document.createElement("aside");
      found.id = id;
      found.title = "点击暂时关闭";
      found.addEventListener("click", function () { found.hidden = true; });  // until the next build
      document.body.appendChild(found);
    }
    return found;
  }

  function fill(id, heading, texts) {
    var target = box(id);
    target.hidden = texts.length === 0;
    target.textContent = "";
    if (!texts.length) { return; }
    var title = document.createElement(id === "riskchart-errors" ? "h2" : "strong");
    title.textContent = heading.replace("N", texts.length);
    target.appendChild(title);
    texts.forEach(function (text) {
      var pre = document.createElement("pre");
      pre.textContent = text;
      target.appendChild(pre);
    });
  }

  function text(id, content) {
    var element = document.getElementById(id);
    element.textContent = content;
    element.hidden = !content;
  }

  function neighbour(id, chart, arrow) {
    var link = document.getElementById(id);
    link.hidden = !chart;
    if (chart) {
      link.href = chart.page;
      link.textContent = arrow === "←" ? "← " + chart.title : chart.title + " →";
    }
  }

  function showChart(state) {
    var at = state.charts.findIndex(function (c) { return c.key === value; });
    var chart = state.charts[at];
    document.getElementById("riskchart-gone").hidden = !!chart;
    var drawing = document.getElementById("riskchart-drawing");
    if (!chart) {
      drawing.classList.add("riskchart-stale");
      return [];
    }
    document.title = chart.title + " · riskchart serve";
    text("riskchart-title", chart.title);
    text("riskchart-source", chart.source);
    text("riskchart-failed", chart.failed);
    neighbour("riskchart-before", state.charts[at - 1], "←");
    neighbour("riskchart-after", state.charts[at + 1], "→");
    drawing.classList.toggle("riskchart-stale", !!chart.failed);
    var wanted = chart.svg && chart.svg + "?v=" + chart.version;
    if (wanted && shownVersion !== wanted && drawing.getAttribute("src") !== wanted) {
      var next = new Image();  // swap once loaded: no blank page between two drawings
      next.onload = function () {
        if (shownVersion !== wanted) { return; }  // a later drawing was asked for meanwhile: it shows
        drawing.src = wanted;
        drawing.hidden = false;
        window.riskchartShown = {version: chart.version, at: Date.now()};
      };
      next.src = wanted;
    }
    shownVersion = wanted;
    return chart.files;
  }

  function linkCards(state) {
    var pages = {};
    state.charts.forEach(function (c) { if (c.svg) { pages[c.svg] = c.page; } });
    document.querySelectorAll(".card a.preview, .card h3 a").forEach(function (a) {
      var page = pages["/" + a.getAttribute("href")];
      if (page) { a.href = page; }
    });
  }

  function show(state) {
    var files = null;
    if (page === "index") {
      var index = state.index === null ? "" : state.index;  // the index file's version: changed, reload
      if (state.instance !== instance || index !== value) {
        if (index !== "" || state.instance !== instance) { location.reload(); }
        return;
      }
      linkCards(state);
    } else {
      files = showChart(state);
    }
    var mine = state.problems.filter(function (p) { return files === null || files.indexOf(p.path) !== -1; });
    var errors = mine.filter(function (p) { return p.error; }).map(function (p) { return p.text; });
    fill("riskchart-errors", "N 个错误（改正并保存后自动消失；点击暂时关闭）", state.notes.concat(errors));
    fill("riskchart-warnings", "N 个警告", mine.filter(function (p) { return !p.error; })
      .map(function (p) { return p.text; }));
    window.riskchartState = state.generation;
  }

  function connect() {
    var events = new EventSource("/_riskchart/events");
    events.onmessage = function (event) {
      box("riskchart-offline").hidden = true;
      show(JSON.parse(event.data));
    };
    events.onerror = function () {
      var offline = box("riskchart-offline");
      offline.textContent = "与 riskchart serve 的连接已断开，正在重连…";
      offline.hidden = false;
      if (events.readyState === EventSource.CLOSED) {
        setTimeout(connect, 1000);
      }
    };
  }
  connect();
}());
