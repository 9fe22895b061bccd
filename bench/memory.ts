// Where a process's resident memory is, for `make bench`: from /proc/self/smaps (what is mapped
// from files: the code of node, ONNX Runtime and libvips) and Node's own counters
// (the JavaScript heap; "external": Buffers and typed arrays, frames among them). The rest,
// "native", is what C++ allocated: ONNX Runtime's arenas and graphs, libvips, thread stacks.
import { readFileSync } from 'node:fs';
import sharp from 'sharp';

export type MemoryBreakdown = {
  rss: number;
  /** Mapped from files: executable code and read-only data of node and its native libraries. */
  code: number;
  /** V8's heap as reserved (heapTotal), JavaScript objects. */
  jsHeap: number;
  /** Memory V8 tracks outside its heap: Buffers, typed arrays (frames, tensors handed to JS). */
  external: number;
  /** libvips' operation cache, inside native. */
  sharpCache: number;
  /** Everything else: ONNX Runtime's sessions and arenas, malloc, thread stacks. */
  native: number;
  threads: number;
};

const MIB = 1024 * 1024;

/** Resident MiB of a process. */
export const rssMiB = (pid: number): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/** Proportional set size in MiB: resident, with each page shared by n processes counted 1/n. */
export const pssMiB = (pid: number): number =>
  Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) / 1024;

/** This process's resident memory by where it is, in MiB. */
export function memoryBreakdown(): MemoryBreakdown {
  let fileKiB = 0;
  let rssKiB = 0;
  let fromFile = false;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    // A mapping's header: address range, permissions, offset, device, inode, path.
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (header) fromFile = header[1] !== '0' && header[2]!.startsWith('/');
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) {
      rssKiB += Number(rss[1]);
      if (fromFile) fileKiB += Number(rss[1]);
    }
  }
  const usage = process.memoryUsage();
  const rss = rssKiB / 1024;
  const code = fileKiB / 1024;
  const jsHeap = usage.heapTotal / MIB;
  const external = usage.external / MIB;
  const threads = Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
  return {
    rss,
    code,
    jsHeap,
    external,
    sharpCache: sharp.cache().memory.current,
    native: rss - code - jsHeap - external,
    threads,
  };
}
