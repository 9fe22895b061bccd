// The systemd unit: valid, and hardened to an exposure score of 3.0 or lower.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

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
