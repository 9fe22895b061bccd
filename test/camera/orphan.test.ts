// No ffmpeg outlives facegate: not after a normal exit, not after SIGKILL (the pipe breaks and
// ffmpeg exits on its next frame).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { RtspServer } from '../helpers/rtsp.js';

let server: RtspServer;
beforeAll(async () => {
  server = await RtspServer.start();
});
afterAll(async () => {
  await server.stop();
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function startReader(): Promise<{ child: ReturnType<typeof spawn>; ffmpeg: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(PROJECT_ROOT, 'test/camera/orphan-child.ts'), server.url],
    {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const ffmpeg = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('reader not ready')), 15_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  return { child, ffmpeg };
}

async function gone(pid: number, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

describe('ffmpeg children', () => {
  it('die when facegate is killed with SIGKILL', async () => {
    const { child, ffmpeg } = await startReader();
    expect(alive(ffmpeg)).toBe(true);
    child.kill('SIGKILL');
    expect(await gone(ffmpeg, 3000)).toBe(true);
  });

  it('die when facegate exits', async () => {
    const { child, ffmpeg } = await startReader();
    child.kill('SIGINT'); // Ctrl-C: the process ends, and its ffmpeg with it
    expect(await gone(ffmpeg, 3000)).toBe(true);
  });
});
