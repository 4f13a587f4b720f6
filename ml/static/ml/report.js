// Draws the model report's Plotly figures (data from the json_script block "ml-figures").
(function () {
  var node = document.getElementById("ml-figures");
  if (!node || !window.Plotly) return;
  var figures = JSON.parse(node.textContent);
  Object.keys(figures).forEach(function (name) {
    var el = document.getElementById("chart-" + name);
    if (el) window.Plotly.newPlot(el, figures[name].data, figures[name].layout, {displayModeBar: false, responsive: true});
  });
})();
