// Drawing only: images on <canvas> with a colour bar, and scatter charts with error bars
// (uPlot, served from ./vendor). Every value drawn comes from the library; nothing here
// computes science, only display transforms (colour scales, degrees, axis ranges).

import uPlot from './vendor/uPlot.esm.js';

// ---- colour maps ---------------------------------------------------------------------------

// viridis at eleven evenly spaced stops (perceptually uniform, readable in grey).
const VIRIDIS = ['#440154', '#482475', '#414487', '#355f8d', '#2a788e', '#21918c',
  '#22a884', '#44bf70', '#7ad151', '#bddf26', '#fde725'];
// A diverging map for residuals: blue below zero, white at zero, red above.
const DIVERGING = ['#2166ac', '#4393c3', '#92c5de', '#d1e5f0', '#f7f7f7',
  '#fddbc7', '#f4a582', '#d6604d', '#b2182b'];

function hexToRgb(h) {
  const v = parseInt(h.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function makeLut(stops) {
  const rgb = stops.map(hexToRgb);
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (rgb.length - 1);
    const k = Math.min(rgb.length - 2, Math.floor(t));
    const f = t - k;
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = rgb[k][c] + f * (rgb[k + 1][c] - rgb[k][c]);
  }
  return lut;
}

const LUTS = { viridis: makeLut(VIRIDIS), diverging: makeLut(DIVERGING) };

// Display stretches: value -> [0, 1] between lo and hi. sqrt shows the faint fringes of a
// bright peak; the residual always uses a linear, zero-centred scale.
const STRETCH = {
  linear: (t) => t,
  sqrt: (t) => Math.sqrt(t),
  asinh: (t) => Math.asinh(10 * t) / Math.asinh(10),
};

function finiteRange(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (!Number.isFinite(lo)) return [0, 1];
  if (hi === lo) return [lo - 1, hi + 1];
  return [lo, hi];
}

/** Colour scale shared by images: `{lo, hi, lut, stretch}`. */
export function imageScale(values, { diverging = false, stretch = 'linear' } = {}) {
  let [lo, hi] = finiteRange(values);
  if (diverging) {
    const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    [lo, hi] = [-m, m];
  }
  return { lo, hi, lut: diverging ? LUTS.diverging : LUTS.viridis, stretch: diverging ? 'linear' : stretch };
}

function colourIndex(v, s) {
  const t = Math.min(1, Math.max(0, (v - s.lo) / (s.hi - s.lo)));
  return Math.round(STRETCH[s.stretch](t) * 255);
}

function niceNumber(v) {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e4 || a < 1e-2) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

/**
 * Paints the n x n row-major `values` into `canvas` (n x n pixels) in `scale`'s colours, row 0 at
 * the bottom; `flipX` puts column 0 at the right. Non-finite values get the grey level `grey`.
 * Returns the canvas's 2-D context.
 */
function paint(canvas, values, n, scale, { grey, flipX = false }) {
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(n, n);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const v = values[y * n + x];
      const o = ((n - 1 - y) * n + (flipX ? n - 1 - x : x)) * 4;
      if (Number.isFinite(v)) {
        const i = colourIndex(v, scale) * 3;
        img.data[o] = scale.lut[i];
        img.data[o + 1] = scale.lut[i + 1];
        img.data[o + 2] = scale.lut[i + 2];
      } else {
        img.data[o] = img.data[o + 1] = img.data[o + 2] = grey;
      }
      img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  return ctx;
}

/**
 * Draws an n x n row-major image (row 0 at the bottom, as FITS and DS9 show it) with a
 * colour bar beside it. Non-finite pixels are grey. Returns the figure element.
 */
export function imageFigure({ title, values, n, scale, pixelSize = 4, caption = '' }) {
  const fig = document.createElement('figure');
  fig.className = 'image-figure';
  const head = document.createElement('figcaption');
  head.textContent = title;
  fig.append(head);

  const row = document.createElement('div');
  row.className = 'image-row';
  const canvas = document.createElement('canvas');
  canvas.width = n;
  canvas.height = n;
  canvas.style.width = `${n * pixelSize}px`;
  canvas.style.height = `${n * pixelSize}px`;
  canvas.className = 'pixels';
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', title);
  paint(canvas, values, n, scale, { grey: 128 });
  row.append(canvas, colourBar(scale, n * pixelSize));
  fig.append(row);
  if (caption) {
    const p = document.createElement('p');
    p.className = 'small';
    p.textContent = caption;
    fig.append(p);
  }
  return fig;
}

function colourBar(scale, heightPx) {
  const wrap = document.createElement('div');
  wrap.className = 'colour-bar';
  wrap.style.height = `${heightPx}px`;
  const bar = document.createElement('canvas');
  bar.width = 1;
  bar.height = 256;
  bar.style.height = `${heightPx}px`;
  const ctx = bar.getContext('2d');
  const img = ctx.createImageData(1, 256);
  for (let i = 0; i < 256; i++) {
    const o = (255 - i) * 4;
    img.data[o] = scale.lut[i * 3];
    img.data[o + 1] = scale.lut[i * 3 + 1];
    img.data[o + 2] = scale.lut[i * 3 + 2];
    img.data[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  const labels = document.createElement('div');
  labels.className = 'colour-bar-labels';
  // Ticks at evenly spaced colours, labelled with the data value each colour stands for.
  const inverse = { linear: (c) => c, sqrt: (c) => c * c, asinh: (c) => Math.sinh(c * Math.asinh(10)) / 10 };
  for (const c of [1, 0.75, 0.5, 0.25, 0]) {
    const span = document.createElement('span');
    span.textContent = niceNumber(scale.lo + inverse[scale.stretch](c) * (scale.hi - scale.lo));
    span.style.top = `${(1 - c) * 100}%`;
    labels.append(span);
  }
  wrap.append(bar, labels);
  return wrap;
}

// ---- the companion map -------------------------------------------------------------------

/**
 * The linearised Δχ² map of the companion search (Rust's DeltaChi2Map: row-major side x side,
 * row k at north = (k - half) step, column l at east = (l - half) step, NaN outside the
 * annulus), drawn as the sky is shown: North up, East left. `markers`: [{east, north, colour,
 * label}] in mas, drawn as rings. `axis` names the two directions ("East"/"North", or the
 * detector's "-x"/"+y"). The canvas keeps one pixel per map node.
 */
export function skyMapFigure({ title, map, markers = [], axis = ['East', 'North'], sizePx = 380 }) {
  const fig = document.createElement('figure');
  fig.className = 'image-figure sky-map';
  const head = document.createElement('figcaption');
  head.textContent = title;
  fig.append(head);
  const row = document.createElement('div');
  row.className = 'image-row';
  const { side, half, step_mas: step } = map;
  const scale = imageScale(map.values);
  scale.lo = 0;
  const canvas = document.createElement('canvas');
  canvas.width = side;
  canvas.height = side;
  canvas.style.width = `${sizePx}px`;
  canvas.style.height = `${sizePx}px`;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', title);
  // East left: column l of the map is drawn at x = side - 1 - l
  const ctx = paint(canvas, map.values, side, scale, { grey: 235, flipX: true });
  // Rings at the markers, in canvas pixels (one per node): column side-1-l, row side-1-k.
  const perPx = side / sizePx;
  ctx.lineWidth = 2.5 * perPx;
  for (const m of markers) {
    const x = side - 1 - (m.east / step + half) + 0.5;
    const y = side - 1 - (m.north / step + half) + 0.5;
    ctx.strokeStyle = m.colour;
    ctx.beginPath();
    ctx.arc(x, y, 9 * perPx, 0, 2 * Math.PI);
    ctx.stroke();
  }
  const r = half * step;
  const legend = document.createElement('p');
  legend.className = 'small';
  legend.textContent = `← ${axis[0]} · ${axis[1]} ↑ · ${r.toFixed(0)} mas from the centre to each edge · ` +
    markers.map((m) => m.label).join(' · ');
  row.append(canvas, colourBar(scale, sizePx));
  fig.append(row, legend);
  return fig;
}

// ---- scatter charts with error bars (uPlot) -----------------------------------------------

export const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

function paddedRange(lo, hi, frac = 0.08) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi === lo) return [lo - 1, hi + 1];
  const pad = (hi - lo) * frac;
  return [lo - pad, hi + pad];
}

/**
 * A scatter chart: `series` = [{label, x: [], y: [], err?: [], colour?}]. Points are not joined;
 * error bars (y +- err) are drawn by a draw hook. uPlot wants one shared, sorted x column, so
 * every point gets its own row and the other series are null there.
 * Options: xLabel, yLabel, width, height, zeroLine, square (same range on both axes, centred),
 * invertY (larger values down, as magnitudes are drawn). A series with `line: true` is drawn as
 * a line through its points instead (`dash: [on, off]` for a dashed one).
 */
export function scatterChart(target, { series, xLabel, yLabel, width = 440, height = 280, zeroLine = false, square = false, xRange = null, invertY = false }) {
  const rows = [];
  series.forEach((s, k) => s.x.forEach((x, i) => {
    if (Number.isFinite(x) && Number.isFinite(s.y[i])) rows.push({ x, k, y: s.y[i], e: s.err?.[i] });
  }));
  rows.sort((a, b) => a.x - b.x);
  const xs = rows.map((r) => r.x);
  const ys = series.map((_, k) => rows.map((r) => (r.k === k ? r.y : null)));
  const es = series.map((_, k) => rows.map((r) => (r.k === k && Number.isFinite(r.e) ? r.e : null)));

  let ylo = Infinity;
  let yhi = -Infinity;
  for (const r of rows) {
    const e = Number.isFinite(r.e) ? r.e : 0;
    ylo = Math.min(ylo, r.y - e);
    yhi = Math.max(yhi, r.y + e);
  }
  if (zeroLine) {
    ylo = Math.min(ylo, 0);
    yhi = Math.max(yhi, 0);
  }
  let yRange = paddedRange(ylo, yhi);
  let xr = xRange ?? paddedRange(Math.min(...xs), Math.max(...xs), 0.05);
  if (square) {
    const m = Math.max(...xs.map(Math.abs), ...rows.map((r) => Math.abs(r.y))) * 1.1 || 1;
    xr = [-m, m];
    yRange = [-m, m];
  }

  const errorBars = (u) => {
    const { ctx } = u;
    ctx.save();
    ctx.lineWidth = 1.2 * devicePixelRatio;
    u.series.forEach((s, si) => {
      if (si === 0 || !s.show) return;
      const k = si - 1;
      ctx.strokeStyle = series[k].colour ?? COLOURS[k % COLOURS.length];
      ctx.beginPath();
      for (let i = 0; i < xs.length; i++) {
        const y = ys[k][i];
        const e = es[k][i];
        if (y == null || e == null) continue;
        const px = u.valToPos(xs[i], 'x', true);
        const p0 = u.valToPos(y - e, 'y', true);
        const p1 = u.valToPos(y + e, 'y', true);
        const cap = 3 * devicePixelRatio;
        ctx.moveTo(px, p0);
        ctx.lineTo(px, p1);
        ctx.moveTo(px - cap, p0);
        ctx.lineTo(px + cap, p0);
        ctx.moveTo(px - cap, p1);
        ctx.lineTo(px + cap, p1);
      }
      ctx.stroke();
    });
    if (zeroLine) {
      ctx.strokeStyle = '#888';
      ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
      ctx.beginPath();
      const y0 = u.valToPos(0, 'y', true);
      ctx.moveTo(u.bbox.left, y0);
      ctx.lineTo(u.bbox.left + u.bbox.width, y0);
      ctx.stroke();
    }
    ctx.restore();
  };

  const opts = {
    width,
    height,
    legend: { show: series.length > 1, live: false },
    cursor: { drag: { x: false, y: false }, points: { show: false } },
    scales: {
      x: { time: false, range: () => xr },
      y: { range: () => yRange, dir: invertY ? -1 : 1 },
    },
    axes: [
      { label: xLabel, stroke: '#333', grid: { stroke: '#eee' } },
      { label: yLabel, stroke: '#333', grid: { stroke: '#eee' }, size: 60 },
    ],
    series: [
      { label: xLabel },
      ...series.map((s, k) => {
        const c = s.colour ?? COLOURS[k % COLOURS.length];
        if (s.line) return { label: s.label, stroke: c, width: 2, dash: s.dash, spanGaps: true, points: { show: false } };
        return {
          label: s.label,
          stroke: c,
          fill: c,
          paths: () => null,
          points: { show: true, size: 7, stroke: c, fill: c, width: 1 },
        };
      }),
    ],
    hooks: { draw: [errorBars] },
  };
  return new uPlot(opts, [xs, ...ys], target);
}
