// The board's page: follows the server's event stream (a snapshot, then runs, rows and samples as
// they are written) and redraws its charts in place with uPlot; the page never reloads.
// window.board exposes the state and the charts (the browser test reads them).
'use strict';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];
const X_LABELS = { step: 'minibatches', tokens: 'tokens', elapsed_s: 'seconds' };

const board = { runs: new Map(), charts: {}, loadedAt: Date.now(), renders: 0, events: 0 };
window.board = board;

/** "1.2k", "3.4M", "0.25": short tick labels. */
function fmtTick(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '';
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a >= 1) return String(+v.toPrecision(4));
  return String(+v.toPrecision(2));
}

/**
 * Ticks for a log axis that read as numbers (1.5, 2, 3, 4 rather than only powers of ten): the
 * coarsest set of mantissas that puts at least four ticks in [min, max].
 */
function logTicks(min, max) {
  if (!(min > 0) || !(max > min)) return [min];
  const sets = [[1], [1, 2, 5], [1, 1.5, 2, 3, 5, 7], [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9]];
  let ticks = [];
  for (const set of sets) {
    ticks = [];
    for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
      for (const m of set) {
        const t = +(m * 10 ** e).toPrecision(6);
        if (t >= min && t <= max) ticks.push(t);
      }
    }
    if (ticks.length >= 4) break;
  }
  return ticks;
}

function colorOf(run) {
  const ids = [...board.runs.keys()];
  return PALETTE[ids.indexOf(run.meta.id) % PALETTE.length];
}

function shownRuns() {
  return [...board.runs.values()].filter((r) => r.shown);
}

/** uPlot's aligned data: one sorted x array for every series, null where a series has no point. */
function align(seriesPoints) {
  const xs = [...new Set(seriesPoints.flatMap((pts) => pts.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, k) => [x, k]));
  const cols = seriesPoints.map((pts) => {
    const col = new Array(xs.length).fill(null);
    for (const [x, y] of pts) col[index.get(x)] = y;
    return col;
  });
  return [xs, ...cols];
}

function points(run, xKey, yKey) {
  const out = [];
  for (const row of run.rows) {
    const x = row[xKey], y = row[yKey];
    if (typeof x === 'number' && Number.isFinite(x) && typeof y === 'number' && Number.isFinite(y)) out.push([x, y]);
  }
  return out;
}

/** What each chart draws: its series (label, style, points) and its y axis. */
function chartSpecs(xKey) {
  const runs = shownRuns();
  return {
    loss: {
      title: 'loss', yLabel: 'loss (nats/char)', log: document.getElementById('yscale').value === 'log',
      series: runs.flatMap((r) => [
        { label: `${r.meta.name} validation`, stroke: colorOf(r), width: 2, pts: points(r, xKey, 'val_loss') },
        { label: `${r.meta.name} train`, stroke: colorOf(r), width: 1, dash: [5, 4], pts: points(r, xKey, 'train_loss') },
      ]),
    },
    lr: {
      title: 'learning rate', yLabel: 'learning rate', log: false,
      series: runs.map((r) => ({ label: r.meta.name, stroke: colorOf(r), width: 1.5, pts: points(r, xKey, 'lr') })),
    },
    tps: {
      title: 'throughput', yLabel: 'tokens/s', log: false,
      series: runs.map((r) => ({ label: r.meta.name, stroke: colorOf(r), width: 1.5, pts: points(r, xKey, 'tokens_per_s') })),
    },
  };
}

function makeChart(el, spec, xKey, data) {
  const width = Math.max(320, el.clientWidth - 10);
  const yScale = spec.log
    ? { distr: 3, log: 10, range: (u, min, max) => (min > 0 && max > 0 ? [min / 1.04, max * 1.04] : [0.1, 10]) }
    : { range: (u, min, max) => (min === null ? [0, 1] : [Math.min(0, min), max > 0 ? max * 1.08 : 1]) };
  return new uPlot({
    title: spec.title,
    width, height: 260,
    scales: { x: { time: false }, y: yScale },
    axes: [
      { label: X_LABELS[xKey], values: (u, vals) => vals.map(fmtTick) },
      { label: spec.yLabel, size: 60, values: (u, vals) => vals.map(fmtTick), ...(spec.log ? { splits: (u, ax, min, max) => logTicks(min, max) } : {}) },
    ],
    series: [
      { label: X_LABELS[xKey], value: (u, v) => fmtTick(v) },
      ...spec.series.map((s) => ({ label: s.label, stroke: s.stroke, width: s.width, dash: s.dash, spanGaps: true, points: { show: s.pts.length < 60, size: 4 }, value: (u, v) => fmtTick(v) })),
    ],
    legend: { live: true },
  }, data, el);
}

function renderCharts() {
  const xKey = document.getElementById('xaxis').value;
  const specs = chartSpecs(xKey);
  for (const [name, spec] of Object.entries(specs)) {
    const el = document.getElementById(`chart-${name}`);
    const data = align(spec.series.map((s) => s.pts));
    // the same series and axes: new data in place; otherwise a new chart
    const shape = JSON.stringify([xKey, spec.log, spec.series.map((s) => s.label)]);
    const old = board.charts[name];
    if (old && old.shape === shape) {
      old.chart.setData(data);
    } else {
      if (old) old.chart.destroy();
      board.charts[name] = { shape, chart: makeChart(el, spec, xKey, data) };
    }
    el.dataset.series = String(spec.series.length);
    el.dataset.points = String(spec.series.reduce((n, s) => n + s.pts.length, 0));
  }
}

function bestVal(run) {
  let best = null;
  for (const r of run.rows) if (typeof r.val_loss === 'number' && Number.isFinite(r.val_loss) && (best === null || r.val_loss < best)) best = r.val_loss;
  return best;
}

function renderRuns() {
  const tbody = document.querySelector('#runs tbody');
  tbody.replaceChildren(...[...board.runs.values()].map((r) => {
    const tr = document.createElement('tr');
    tr.dataset.run = r.meta.name;
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = r.shown;
    box.addEventListener('change', () => { r.shown = box.checked; schedule(); });
    const last = r.rows[r.rows.length - 1];
    const best = bestVal(r);
    const cells = [
      [box], [swatch(colorOf(r)), r.meta.name], [r.meta.model], [r.meta.status],
      [last && typeof last.step === 'number' ? last.step.toLocaleString('en-US') : '-'], [best === null ? '-' : best.toFixed(3)],
    ];
    cells.forEach((parts, k) => {
      const td = document.createElement('td');
      td.append(...parts);
      if (k === 2) td.className = 'model';
      if (k === 3) td.className = `status-${r.meta.status}`;
      tr.append(td);
    });
    return tr;
  }));
  document.getElementById('empty').hidden = board.runs.size > 0;
}

function swatch(color) {
  const s = document.createElement('span');
  s.className = 'swatch';
  s.style.background = color;
  return s;
}

function renderSamples() {
  const box = document.getElementById('samples');
  box.replaceChildren(...shownRuns().flatMap((r) => r.samples.slice(-3).reverse().map((s) => {
    const div = document.createElement('div');
    div.className = 'sample';
    div.dataset.run = r.meta.name;
    const at = document.createElement('span');
    at.className = 'at';
    at.textContent = `${r.meta.name}, minibatch ${s.step} (epoch ${s.epoch})`;
    div.append(at, document.createTextNode(s.text));
    return div;
  })));
}

let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    renderRuns();
    renderCharts();
    renderSamples();
    board.renders++;
  });
}

function upsert(meta) {
  const run = board.runs.get(meta.id) ?? { meta, rows: [], samples: [], shown: true };
  run.meta = { id: meta.id, name: meta.name, model: meta.model, status: meta.status };
  board.runs.set(meta.id, run);
  return run;
}

function connect() {
  const conn = document.getElementById('conn');
  const es = new EventSource('/api/events');
  const on = (event, f) => es.addEventListener(event, (e) => { board.events++; f(JSON.parse(e.data)); schedule(); });
  on('snapshot', (d) => {
    board.runs.clear();
    for (const r of d.runs) Object.assign(upsert(r), { rows: r.rows, samples: r.samples });
  });
  on('run', (meta) => upsert(meta));
  on('rows', (d) => {
    const run = board.runs.get(d.id);
    if (!run) return;
    run.rows = d.reset ? d.rows : run.rows.concat(d.rows);
  });
  on('samples', (d) => {
    const run = board.runs.get(d.id);
    if (run) run.samples = d.samples;
  });
  es.onopen = () => { conn.textContent = 'live'; conn.className = 'conn live'; };
  // EventSource reconnects by itself; the snapshot on reconnect replaces everything
  es.onerror = () => { conn.textContent = 'reconnecting…'; conn.className = 'conn'; };
}

for (const id of ['xaxis', 'yscale']) document.getElementById(id).addEventListener('change', schedule);
window.addEventListener('resize', () => { for (const c of Object.values(board.charts)) c.chart.destroy(); board.charts = {}; schedule(); });
connect();
