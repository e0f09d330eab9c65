/* The console's charts, drawn with Chart.js (served from /static/vendor, installed by scripts/lib.sh).
   Each function creates a chart once and afterwards updates it in place. */
(function (root) {
  'use strict';
  var COLORS = ['#1f5fa8', '#b8520a', '#2e7d32', '#8e24aa', '#c62828', '#00796b', '#5d4037', '#455a64', '#ad1457', '#283593'];

  function sparkline(canvas, values, chart) {
    var labels = values.map(function (_, i) { return i - values.length + 1; });
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets[0].data = values.slice();
      chart.update('none');
      return chart;
    }
    return new Chart(canvas, {
      type: 'bar',
      data: {labels: labels, datasets: [{data: values.slice(), backgroundColor: COLORS[0]}]},
      options: {responsive: true, maintainAspectRatio: false, animation: false,
        plugins: {legend: {display: false}, tooltip: {enabled: true}},
        scales: {x: {display: false}, y: {display: false, beginAtZero: true}}}
    });
  }

  /* series: [{key, label, data: [numbers]}], labels: x labels; a new key adds a line */
  function lines(canvas, labels, series, chart, yTitle) {
    if (chart) {
      chart.data.labels = labels.slice();
      series.forEach(function (s, i) {
        var found = chart.data.datasets.filter(function (d) { return d.key === s.key; })[0];
        if (found) { found.data = s.data.slice(); found.label = s.label; }
        else chart.data.datasets.push(dataset(s, chart.data.datasets.length));
      });
      chart.update('none');
      return chart;
    }
    return new Chart(canvas, {
      type: 'line',
      data: {labels: labels.slice(), datasets: series.map(dataset)},
      options: {responsive: true, maintainAspectRatio: false, animation: false,
        interaction: {mode: 'index', intersect: false},
        scales: {y: {beginAtZero: true, title: {display: !!yTitle, text: yTitle || ''}}}}
    });
  }

  function dataset(s, i) {
    var color = s.color || COLORS[i % COLORS.length];
    return {key: s.key, label: s.label, data: s.data.slice(), borderColor: color, backgroundColor: color,
            borderDash: s.dashed ? [6, 4] : [], pointRadius: 2, tension: 0.2, stepped: !!s.stepped};
  }

  root.ConsoleCharts = {sparkline: sparkline, lines: lines};
})(window);
