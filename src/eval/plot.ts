// ROC curve and distance histograms as one PNG: drawn as SVG, rasterised by sharp (librsvg).
import sharp from '../vision/libvips.js';
import type { ScoredPair } from './metrics.js';

const W = 900;
const H = 380;
const PANEL = { w: 380, h: 280, top: 40 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

export async function writeEvaluationPlot(
  file: string,
  data: {
    roc: { far: number; tar: number }[];
    scored: readonly ScoredPair[];
    threshold: number;
    title: string;
  },
): Promise<void> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escape(data.title)}</text>
${rocPanel(60, [{ roc: data.roc, colour: COLOURS[0]! }])}
${histogramPanel(500, data.scored, data.threshold)}
</svg>`;
  await sharp(Buffer.from(svg)).png().toFile(file);
}

function axes(
  x0: number,
  label: string,
  yLabel: string,
  ticksX: [number, string][],
  ticksY: [number, string][],
): string {
  const { w, h, top } = PANEL;
  const parts = [`<rect x="${x0}" y="${top}" width="${w}" height="${h}" fill="none" stroke="black"/>`];
  for (const [x, t] of ticksX) {
    parts.push(
      `<line x1="${x0 + x * w}" y1="${top + h}" x2="${x0 + x * w}" y2="${top + h + 4}" stroke="black"/>`,
    );
    parts.push(`<text x="${x0 + x * w}" y="${top + h + 16}" text-anchor="middle">${t}</text>`);
  }
  for (const [y, t] of ticksY) {
    parts.push(
      `<line x1="${x0 - 4}" y1="${top + h - y * h}" x2="${x0}" y2="${top + h - y * h}" stroke="black"/>`,
    );
    parts.push(`<text x="${x0 - 6}" y="${top + h - y * h + 4}" text-anchor="end">${t}</text>`);
  }
  parts.push(`<text x="${x0 + w / 2}" y="${top + h + 34}" text-anchor="middle">${label}</text>`);
  parts.push(
    `<text x="${x0 - 40}" y="${top + h / 2}" text-anchor="middle" transform="rotate(-90 ${x0 - 40} ${top + h / 2})">${yLabel}</text>`,
  );
  return parts.join('\n');
}

/** TAR against FAR on a log axis from 1e-4 to 1, one line per curve. */
function rocPanel(x0: number, curves: { roc: { far: number; tar: number }[]; colour: string }[]): string {
  const { w, h, top } = PANEL;
  const minLog = -4;
  const fx = (far: number) => (Math.max(minLog, Math.log10(Math.max(far, 1e-12))) - minLog) / -minLog;
  const lines = curves.map(({ roc, colour }) => {
    const pts = roc
      .map((p) => `${(x0 + fx(p.far) * w).toFixed(1)},${(top + h - p.tar * h).toFixed(1)}`)
      .join(' ');
    return `<polyline points="${pts}" fill="none" stroke="${colour}" stroke-width="2"/>`;
  });
  const ticksX: [number, string][] = [-4, -3, -2, -1, 0].map((e) => [(e - minLog) / -minLog, `1e${e}`]);
  const ticksY: [number, string][] = [0, 0.25, 0.5, 0.75, 1].map((v) => [v, v.toFixed(2)]);
  return `${axes(x0, 'false accept rate', 'true accept rate', ticksX, ticksY)}
${lines.join('\n')}`;
}

/** Distance histograms of same (green) and different (red) pairs, with the threshold. */
function histogramPanel(x0: number, scored: readonly ScoredPair[], threshold: number): string {
  const { w, h, top } = PANEL;
  const max = 1.2;
  const bins = 60;
  const count = (same: boolean) => {
    const c = new Array<number>(bins).fill(0);
    for (const p of scored)
      if (p.same === same && Number.isFinite(p.distance))
        c[Math.min(bins - 1, Math.floor((p.distance / max) * bins))]!++;
    const total = c.reduce((a, b) => a + b, 0) || 1;
    return c.map((v) => v / total);
  };
  const same = count(true);
  const diff = count(false);
  const peak = Math.max(...same, ...diff, 1e-9);
  const bars = (c: number[], colour: string) =>
    c
      .map(
        (v, i) =>
          `<rect x="${x0 + (i / bins) * w}" y="${top + h - (v / peak) * h}" width="${w / bins}" height="${(v / peak) * h}" fill="${colour}" fill-opacity="0.5"/>`,
      )
      .join('');
  const tx = x0 + Math.min(1, threshold / max) * w;
  const ticksX: [number, string][] = [0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2].map((v) => [v / max, v.toFixed(1)]);
  return `${axes(x0, 'distance (green: same person, red: different)', 'share of pairs', ticksX, [])}
${bars(same, '#2ca02c')}${bars(diff, '#d62728')}
<line x1="${tx}" y1="${top}" x2="${tx}" y2="${top + h}" stroke="black" stroke-dasharray="4 3"/>
<text x="${tx + 4}" y="${top + 14}">threshold ${threshold.toFixed(3)}</text>`;
}

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** ROC curves of several comparators in one panel (log FAR axis), with a legend. */
export async function writeRocComparison(
  file: string,
  title: string,
  curves: { label: string; roc: { far: number; tar: number }[] }[],
): Promise<void> {
  const colour = (i: number) => COLOURS[i % COLOURS.length]!;
  const legend = curves.map(
    (c, i) =>
      `<text x="${60 + PANEL.w + 20}" y="${PANEL.top + 20 + 18 * i}" fill="${colour(i)}">${escape(c.label)}</text>`,
  );
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escape(title)}</text>
${rocPanel(
  60,
  curves.map((c, i) => ({ roc: c.roc, colour: colour(i) })),
)}
${legend.join('\n')}
</svg>`;
  await sharp(Buffer.from(svg)).png().toFile(file);
}

/** Training curves: one panel per series against the epoch. */
export async function writeTrainingCurves(
  file: string,
  title: string,
  series: { label: string; values: number[] }[],
): Promise<void> {
  const panelW = 260;
  const width = 80 + series.length * (panelW + 60);
  const panels = series.map((s, i) => {
    const x0 = 60 + i * (panelW + 60);
    const { h } = PANEL;
    const top = PANEL.top + 16; // room for the title above the panel labels
    // Each series on its own range: a TAR moving between 0.90 and 0.91 must show.
    const lo = Math.min(...s.values);
    const hi = Math.max(...s.values, lo + 1e-9);
    const n = Math.max(1, s.values.length - 1);
    const pts = s.values
      .map(
        (v, e) =>
          `${(x0 + (e / n) * panelW).toFixed(1)},${(top + h - ((v - lo) / (hi - lo)) * h).toFixed(1)}`,
      )
      .join(' ');
    const ticksY = [0, 0.5, 1].map((f) => {
      const y = top + h - f * h;
      return `<text x="${x0 - 6}" y="${y + 4}" text-anchor="end">${(lo + f * (hi - lo)).toPrecision(3)}</text>`;
    });
    return `<rect x="${x0}" y="${top}" width="${panelW}" height="${h}" fill="none" stroke="black"/>
${ticksY.join('\n')}
<text x="${x0 + panelW / 2}" y="${top - 8}" text-anchor="middle">${escape(s.label)}</text>
<text x="${x0 + panelW / 2}" y="${top + h + 20}" text-anchor="middle">epoch 1..${s.values.length}</text>
<polyline points="${pts}" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2"/>`;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 16}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escape(title)}</text>
${panels.join('\n')}
</svg>`;
  await sharp(Buffer.from(svg)).png().toFile(file);
}
