// Timing helpers for `make bench`: warm up, then take the median of repeated runs. Figures are
// compared as ratios within one run, never against fixed wall-clock limits.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export async function medianMs(
  fn: () => unknown,
  opts: { warmup?: number; runs?: number } = {},
): Promise<number> {
  for (let i = 0; i < (opts.warmup ?? 3); i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < (opts.runs ?? 15); i++) {
    const t = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export function machine(): string {
  const cpu = cpus();
  return `${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
}

export class Table {
  private readonly rows: string[][] = [];
  constructor(private readonly header: string[]) {}
  add(...cells: (string | number)[]): void {
    this.rows.push(cells.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  }
  toString(): string {
    const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
    return [line(this.header), line(this.header.map(() => '---')), ...this.rows.map(line)].join('\n');
  }
}

export const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time (user + system) a process has used, from /proc. */
export function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}
