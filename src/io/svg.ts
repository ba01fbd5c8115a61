// A small dependency-free SVG line chart (speedup plots, perplexity curves). Linear or log y axis.

import { extent } from '../util/extent.js';

export interface Series {
  name: string;
  points: Array<[number, number]>;
  dashed?: boolean;
  /** series sharing an index share a color (e.g. a run's train and validation curves) */
  colorIndex?: number;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  logY?: boolean;
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (hi <= lo) return [lo];
  const step0 = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/**
 * Ticks for a log axis over [10^lo, 10^hi] that always label the axis: powers of ten over more
 * than 6 decades, 1-2-5 per decade over 1-6, and plain linear "nice" values under one decade
 * (where 1-2-5 may leave no tick at all, e.g. perplexities 3.2 to 3.4 of a 1-epoch run).
 */
export function logTicks(lo: number, hi: number): number[] {
  const pick = (mults: number[]) => {
    const out: number[] = [];
    for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
      for (const m of mults) {
        const v = Number((m * 10 ** e).toPrecision(6));
        if (Math.log10(v) >= lo - 1e-9 && Math.log10(v) <= hi + 1e-9) out.push(v);
      }
    }
    return out;
  };
  if (hi - lo > 6) return pick([1]);
  const coarse = hi - lo >= 1 ? pick([1, 2, 5]) : [];
  if (coarse.length >= 3) return coarse;
  return niceTicks(10 ** lo, 10 ** hi, 4).filter((v) => v > 0);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function lineChart(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 640, H = o.height ?? 400;
  const longest = Math.max(8, ...series.map((s) => s.name.length));
  const m = { l: 64, r: Math.min(360, 52 + 7 * longest), t: 40, b: 52 };
  const pts = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y) && (!o.logY || y > 0));
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  // x from 0 (epochs, seconds, tokens, workers are counted from there): a run's curve starts where the run did
  const [xLo, xMax] = extent(xs);
  const xMin = Math.min(0, xLo);
  const ty = (y: number) => (o.logY ? Math.log10(y) : y);
  let [yMin, yMax] = extent(ys.map(ty));
  if (!o.logY) yMin = Math.min(0, yMin);
  // one value (or nearly): widen the range around it so the axis still gets labeled ticks
  if (o.logY && yMax - yMin < 0.02) { yMin -= 0.05; yMax += 0.05; }
  if (yMax === yMin) yMax = yMin + 1;
  const X = (x: number) => m.l + ((x - xMin) / (xMax - xMin || 1)) * (W - m.l - m.r);
  const Y = (y: number) => H - m.b - ((ty(y) - yMin) / (yMax - yMin)) * (H - m.t - m.b);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="14">${esc(o.title)}</text>`);
  const yTicks = o.logY ? logTicks(yMin, yMax) : niceTicks(yMin, yMax);
  for (const v of yTicks) {
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${Y(v)}" y2="${Y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${m.l - 6}" y="${Y(v) + 4}" text-anchor="end">${Number(v.toPrecision(6))}</text>`);
  }
  // integer steps when the range is small and whole (workers 1..16, a few epochs), else about 8 nice ones
  const xCount = xMax - xMin >= 1 && xMax - xMin <= 10 && Number.isInteger(xMax) && Number.isInteger(xMin) ? xMax - xMin : 8;
  for (const v of niceTicks(xMin, xMax, xCount)) {
    out.push(`<line x1="${X(v)}" x2="${X(v)}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/>`);
    out.push(`<text x="${X(v)}" y="${H - m.b + 16}" text-anchor="middle">${Number(v.toPrecision(6))}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}${o.logY ? ' (log)' : ''}</text>`);
  series.forEach((s, k) => {
    const color = COLORS[(s.colorIndex ?? k) % COLORS.length];
    const p = s.points.filter(([, y]) => Number.isFinite(y) && (!o.logY || y > 0));
    if (p.length === 0) return;
    const d = p.map(([x, y], i) => `${i ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (p.length <= 32) for (const [x, y] of p) out.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="3" fill="${color}"/>`);
    out.push(`<line x1="${W - m.r + 12}" x2="${W - m.r + 36}" y1="${m.t + 10 + k * 18}" y2="${m.t + 10 + k * 18}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${W - m.r + 42}" y="${m.t + 14 + k * 18}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
