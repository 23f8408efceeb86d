// Grouped bar charts as plain SVG text, no dependencies: one group per
// benchmark cell, one bar per server. Used by bench/run.js for the charts
// saved next to each results file.

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f'];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

// A short number for axis ticks: 1500 -> 1.5k, 2000000 -> 2M.
function shortNumber(v) {
  const a = Math.abs(v);
  const trim = (x) => String(Number(x.toPrecision(3)));
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

// Round-number ticks from 0 to at least max (linear axis).
function linearTicks(max) {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(v);
  return ticks;
}

// Powers of ten (with 2 and 5 between them when the range is narrow) that
// cover [min, max] (log axis).
function logTicks(min, max) {
  let lo = 10 ** Math.floor(Math.log10(min));
  const hi = 10 ** Math.ceil(Math.log10(max));
  const ticks = [];
  const steps = Math.log10(hi / lo) <= 2 ? [1, 2, 5] : [1];
  for (; lo <= hi; lo *= 10) for (const m of steps) if (lo * m <= hi) ticks.push(lo * m);
  return ticks;
}

/**
 * groups: [{ label, values: { [series]: number | undefined } }]
 * series: names in legend order (a series with no value anywhere is dropped)
 * opts: { title, unit, log, note }
 * Returns the SVG document as a string.
 */
function groupedBarChart(groups, series, opts) {
  const shown = series.filter((s) => groups.some((g) => Number.isFinite(g.values[s]) && g.values[s] > 0));
  const barW = 14;
  const groupGap = 22;
  const groupW = Math.max(shown.length, 1) * barW + groupGap;
  const left = 78;
  const right = 20;
  const top = 58;
  const plotH = 300;
  const labelH = 62;
  const width = Math.max(left + right + groups.length * groupW, 560);
  const legendW = 120;
  const perRow = Math.max(1, Math.floor((width - left - right) / legendW));
  const legendRows = Math.ceil(shown.length / perRow);
  const height = top + plotH + labelH + legendRows * 20 + (opts.note ? 22 : 0) + 10;

  const values = groups.flatMap((g) => shown.map((s) => g.values[s])).filter((v) => Number.isFinite(v) && v > 0);
  const max = values.length ? Math.max(...values) : 1;
  const min = values.length ? Math.min(...values) : 1;
  let ticks;
  let y;
  if (opts.log) {
    ticks = logTicks(min, max);
    const l0 = Math.log10(ticks[0]);
    const l1 = Math.log10(ticks[ticks.length - 1]);
    y = (v) => top + plotH - ((Math.log10(v) - l0) / (l1 - l0 || 1)) * plotH;
  } else {
    ticks = linearTicks(max);
    const tmax = ticks[ticks.length - 1];
    y = (v) => top + plotH - (v / tmax) * plotH;
  }
  const base = opts.log ? top + plotH : y(0);

  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
  );
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="22" font-size="15" font-weight="bold">${esc(opts.title)}</text>`);
  out.push(`<text x="${left}" y="40" fill="#555">${esc(opts.subtitle || '')}</text>`);
  // axis, grid and tick labels
  for (const t of ticks) {
    const ty = y(t).toFixed(1);
    out.push(`<line x1="${left}" x2="${width - right}" y1="${ty}" y2="${ty}" stroke="#e3e3e3"/>`);
    out.push(
      `<text x="${left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle" fill="#333">${esc(shortNumber(t))}</text>`,
    );
  }
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`);
  out.push(`<line x1="${left}" x2="${width - right}" y1="${base}" y2="${base}" stroke="#333"/>`);
  out.push(
    `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#333">${esc(opts.unit)}${opts.log ? ' (log scale)' : ''}</text>`,
  );
  // bars
  groups.forEach((g, gi) => {
    const gx = left + groupGap / 2 + gi * groupW;
    shown.forEach((s, si) => {
      const v = g.values[s];
      if (!(Number.isFinite(v) && v > 0)) return;
      const x = gx + si * barW;
      const yt = Math.min(y(v), base - 1);
      out.push(
        `<rect x="${x}" y="${yt.toFixed(1)}" width="${barW - 2}" height="${(base - yt).toFixed(1)}" fill="${PALETTE[series.indexOf(s) % PALETTE.length]}"><title>${esc(`${s}, ${g.label}: ${Number(v.toPrecision(4))} ${opts.unit}`)}</title></rect>`,
      );
    });
    const cx = gx + (shown.length * barW) / 2;
    const lines = String(g.label).split('\n');
    lines.forEach((line, li) => {
      out.push(
        `<text x="${cx.toFixed(1)}" y="${top + plotH + 16 + li * 14}" text-anchor="middle" fill="#333">${esc(line)}</text>`,
      );
    });
  });
  // legend
  const ly0 = top + plotH + labelH - 14;
  shown.forEach((s, i) => {
    const lx = left + (i % perRow) * legendW;
    const ly = ly0 + Math.floor(i / perRow) * 20;
    out.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${PALETTE[series.indexOf(s) % PALETTE.length]}"/>`,
    );
    out.push(`<text x="${lx + 18}" y="${ly}" fill="#333">${esc(s)}</text>`);
  });
  if (opts.note)
    out.push(`<text x="${left}" y="${ly0 + legendRows * 20 + 8}" fill="#666" font-size="11">${esc(opts.note)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

module.exports = { groupedBarChart };
