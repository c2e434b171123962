// Filter the cards as the user types: every word must appear somewhere in
// the chart's text, and the chart must have a risk of the chosen level and type.
(function () {
  "use strict";
  var search = document.getElementById("search");
  var level = document.getElementById("level");
  var riskType = document.getElementById("risk-type");  // only when some chart names risk types
  var shown = document.getElementById("shown");
  var nothing = document.getElementById("nothing");
  var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
  var sections = Array.prototype.slice.call(document.querySelectorAll(".category"));
  var texts = cards.map(function (card) { return card.getAttribute("data-search").toLowerCase(); });

  function apply() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var wanted = level.value;
    var wantedType = riskType ? riskType.value : "";
    var count = 0;
    cards.forEach(function (card, i) {
      var levels = card.getAttribute("data-levels").split("\n");  // a level's name may hold a space
      var match = words.every(function (w) { return texts[i].indexOf(w) !== -1; }) &&
                  (!wanted || levels.indexOf(wanted) !== -1) &&
                  (!wantedType || card.getAttribute("data-types").split("\n").indexOf(wantedType) !== -1);
      card.hidden = !match;
      if (match) { count += 1; }
    });
    sections.forEach(function (section) {
      section.hidden = !section.querySelector(".card:not([hidden])");
    });
    shown.textContent = "显示 " + count + " / " + cards.length + " 张";
    nothing.hidden = count !== 0;
  }

  search.addEventListener("input", apply);
  level.addEventListener("change", apply);
  if (riskType) { riskType.addEventListener("change", apply); }
  apply();
}());
