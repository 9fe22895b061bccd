// The systemd unit: valid, and hardened to an exposure score of 3.0 or lower; `make install`
// lays out what it runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT, samplePhoto } from '../helpers/fixtures.js';

const unit = join(PROJECT_ROOT, 'systemd/facegate.service');
const analyze = '/usr/bin/systemd-analyze';

describe('systemd/facegate.service', () => {
  it('passes systemd-analyze verify and scores 3.0 or lower in systemd-analyze security', () => {
    if (!existsSync(analyze)) throw new Error(`${analyze} is missing: make deps installs systemd`);
    execFileSync(analyze, ['verify', unit], { stdio: 'pipe' });
    const out = execFileSync(analyze, ['security', '--offline=true', unit], { encoding: 'utf8' });
    const score = Number(/Overall exposure level for facegate\.service: ([\d.]+)/.exec(out)?.[1]);
    expect(score).toBeLessThanOrEqual(3.0);
  });
});

describe('systemd/facegate-door@.service', () => {
  it('passes systemd-analyze verify and scores 3.0 or lower, as an instance for one door', () => {
    if (!existsSync(analyze)) throw new Error(`${analyze} is missing: make deps installs systemd`);
    const dir = mkdtempSync(join(tmpdir(), 'fg-door-unit-'));
    try {
      // verify and security take an instance, not the template.
      const instance = join(dir, 'facegate-door@front.service');
      copyFileSync(join(PROJECT_ROOT, 'systemd/facegate-door@.service'), instance);
      execFileSync(analyze, ['verify', instance], { stdio: 'pipe' });
      const out = execFileSync(analyze, ['security', '--offline=true', instance], { encoding: 'utf8' });
      const score = Number(
        /Overall exposure level for facegate-door@front\.service: ([\d.]+)/.exec(out)?.[1],
      );
      expect(score).toBeLessThanOrEqual(3.0);
      expect(readFileSync(instance, 'utf8')).toMatch(/bin\.js door \/etc\/facegate\/door-%i\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('make install', () => {
  it('stages a runnable production tree, the unit, the user and the config (DESTDIR)', () => {
    const dest = mkdtempSync(join(tmpdir(), 'fg-install-'));
    try {
      // -o models: the ONNX files are there already (make test built them) and other tests read them.
      execFileSync('make', ['-o', 'models', 'install', `DESTDIR=${dest}`], {
        cwd: PROJECT_ROOT,
        stdio: 'pipe',
      });
      const root = join(dest, 'opt/facegate');
      for (const f of [
        'etc/systemd/system/facegate.service',
        'etc/systemd/system/facegate-door@.service',
        'usr/lib/sysusers.d/facegate.conf',
      ])
        expect(existsSync(join(dest, f))).toBe(true);
      expect(readFileSync(join(dest, 'etc/facegate/config.json'), 'utf8').trim()).toBe('{}');
      expect(statSync(join(dest, 'etc/facegate/mqtt-password')).mode & 0o777).toBe(0o600);
      expect(existsSync(join(root, 'node_modules/@tensorflow/tfjs'))).toBe(false); // development only
      const bin = join(root, 'dist/src/cli/bin.js');
      const env = { PATH: process.env.PATH, FACEGATE_STATE_DIR: join(dest, 'state') };
      expect(execFileSync('node', [bin, 'config', '--check'], { encoding: 'utf8', env })).toMatch(/valid/);
      // The int8 encoder passes its self-check with the photos installed beside the models.
      const photo = samplePhoto('sample1.jpg');
      const verify = spawnSync('node', [bin, 'verify', photo, photo], {
        encoding: 'utf8',
        env: { ...env, FACEGATE_MODELS_ENCODER: 'dlib', FACEGATE_MODELS_INT8: 'true' },
      });
      expect(verify.status).toBe(0);
      expect(verify.stderr).not.toMatch(/self-check/);
      // Installed without cameras: a configuration error (78, not restarted by the unit), not a crash.
      const run = spawnSync('node', [bin, 'run'], { encoding: 'utf8', env, timeout: 60_000 });
      expect(run.status).toBe(78);
      expect(run.stderr).toMatch(/no camera configured/);
    } finally {
      rmSync(dest, { recursive: true, force: true });
    }
  }, 120_000);
});
