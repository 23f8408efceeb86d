// Issue 3's performance bar, checked against one run's medians. Every line
// is a ratio between two servers measured in the same run (or, for idle
// memory, an absolute figure), so a faster or slower machine moves both sides.

// The echo example two ways: its read/writeAll loop (a promise per
// operation) and --io copy (the runtime's relay, no JavaScript per message).
const BAR_SERVER = 'percore,percore-copy';

// Issue 4: the epoll driver against the C epoll floor.
const EPOLL_BAR_SERVERS = ['percore-epoll', 'percore-copy-epoll'];
const EPOLL_LINES = [
  { what: 'server CPU per rt ≤ 1.35 × c-epoll', cell: '128x64', metric: 'serverUsPerRt', vs: 'c-epoll', max: 1.35 },
  { what: 'server CPU per rt ≤ 1.2 × c-epoll', cell: '128x16384', metric: 'serverUsPerRt', vs: 'c-epoll', max: 1.2 },
];

// metric: a field of a cell's summary; vs: the baseline server (or null for
// an absolute limit); max/min: the ratio (or value) allowed.
const FIXED_LINES = [
  { what: 'server CPU per rt ≤ 1.25 × c-uring', cell: '128x64', metric: 'serverUsPerRt', vs: 'c-uring', max: 1.25 },
  { what: 'server CPU per rt ≤ 1.25 × c-uring', cell: '128x1024', metric: 'serverUsPerRt', vs: 'c-uring', max: 1.25 },
  { what: 'server CPU per rt ≤ 1.30 × c-uring', cell: '16x64', metric: 'serverUsPerRt', vs: 'c-uring', max: 1.3 },
  { what: 'server CPU per rt ≤ 1.15 × c-uring', cell: '128x16384', metric: 'serverUsPerRt', vs: 'c-uring', max: 1.15 },
  { what: 'rt/s ≥ 1.4 × node:net', cell: '128x64', metric: 'rps', vs: 'node:net', min: 1.4 },
  { what: 'rt/s ≥ 2.3 × node:net', cell: '128x16384', metric: 'rps', vs: 'node:net', min: 2.3 },
  { what: 'rt/s ≥ bun', cell: '128x16384', metric: 'rps', vs: 'bun', min: 1.0 },
];
const IDLE_LIMIT = 4096; // bytes of RSS per idle connection
const IDLE_AT = 10000;

/** The bar's lines for the cells of this run: the fixed ones, p99 for every
 * steady cell with 16 or more connections, idle memory and churn. */
function barLines(sections) {
  const lines = [...FIXED_LINES];
  for (const s of sections) {
    if (s.cell.kind === 'steady' && s.cell.connections >= 16) {
      lines.push({ what: 'p99 latency ≤ node:net', cell: s.key, metric: 'p99', vs: 'node:net', max: 1.0 });
    }
  }
  lines.push({
    what: `idle RSS ≤ 4 KiB per connection at ${IDLE_AT}`,
    cell: `idle:${IDLE_AT}`,
    metric: 'perConn',
    vs: null,
    max: IDLE_LIMIT,
  });
  lines.push({
    what: 'churn (connections/s) ≥ 1.5 × node:net',
    cell: 'churn',
    metric: 'rps',
    vs: 'node:net',
    min: 1.5,
  });
  return lines;
}

function show(metric, v) {
  if (!Number.isFinite(v)) return '-';
  if (metric === 'perConn') return `${(v / 1024).toFixed(2)} KiB`;
  if (metric === 'serverUsPerRt') return `${v.toFixed(2)} µs`;
  if (metric === 'p99') return `${v.toFixed(0)} µs`;
  return v.toFixed(0);
}

/** Rows [line, cell, measured, baseline, ratio, needed, PASS|FAIL|reason]. */
function evaluateBar(lines, sections, server) {
  return lines.map((l) => {
    const sec = sections.find((s) => s.key === l.cell);
    const needed =
      l.vs === null
        ? `≤ ${show(l.metric, l.max)}`
        : l.max !== undefined
          ? `≤ ${l.max.toFixed(2)}x`
          : `≥ ${l.min.toFixed(2)}x`;
    const row = (mine, base, ratio, result) => [l.what, l.cell, mine, base, ratio, needed, result];
    if (!sec) return row('-', '-', '-', 'not run');
    const me = sec.results[server];
    if (!me || me.error || me.skipped) return row('-', '-', '-', `no result for ${server}`);
    const mine = me[l.metric];
    if (l.vs === null) return row(show(l.metric, mine), '-', '-', mine <= l.max ? 'PASS' : 'FAIL');
    const b = sec.results[l.vs];
    if (!b || b.error || b.skipped) return row(show(l.metric, mine), '-', '-', `no result for ${l.vs}`);
    const base = b[l.metric];
    const r = mine / base;
    const ok = l.max !== undefined ? r <= l.max : r >= l.min;
    return row(show(l.metric, mine), `${l.vs} ${show(l.metric, base)}`, `${r.toFixed(2)}x`, ok ? 'PASS' : 'FAIL');
  });
}

module.exports = { BAR_SERVER, EPOLL_BAR_SERVERS, EPOLL_LINES, barLines, evaluateBar };
