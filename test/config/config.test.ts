import { readFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { livenessPolicy, loadConfig, schemaSettings, type Config } from '../../src/config/schema.js';
import { DEFAULT_LIVENESS } from '../../src/recognition/liveness.js';
import {
  DOOR_THRESHOLDS,
  doorThreshold,
  ENCODER_THRESHOLDS,
  matchThreshold,
} from '../../src/inference/faces.js';
import { ENCODERS } from '../../src/inference/model-manifest.js';
import { configDefaults, configReference } from '../../tools/config-docs.js';
import { PROJECT_ROOT, samplePhoto } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('configuration', () => {
  it('has typed defaults derived from the schema', () => {
    const c = loadConfig(undefined, {});
    // 0: the encoder's own threshold.
    expect(c.match.threshold).toBe(0);
    expect(c.models.encoder).toBe('mobilefacenet');
    expect(matchThreshold(c)).toBe(ENCODER_THRESHOLDS.mobilefacenet);
    expect(matchThreshold({ ...c, models: { ...c.models, encoder: 'dlib' } })).toBe(0.42);
    expect(matchThreshold({ ...c, match: { ...c.match, threshold: 0.5 } })).toBe(0.5);
    // A door's default is stricter: it compares each face with everyone enrolled.
    expect(doorThreshold(c)).toBe(DOOR_THRESHOLDS.mobilefacenet);
    for (const e of ENCODERS) expect(DOOR_THRESHOLDS[e]).toBeLessThan(ENCODER_THRESHOLDS[e]);
    expect(doorThreshold({ ...c, match: { ...c.match, threshold: 0.5 } })).toBe(0.5);
    expect(c.models.providers).toEqual(['cpu']);
    expectTypeOf(c.match.threshold).toEqualTypeOf<number>();
    expectTypeOf<Config['models']['providers']>().toEqualTypeOf<('tensorrt' | 'cuda' | 'cpu')[]>();
  });

  it('gives each camera the liveness section with its own settings over it', () => {
    const c = loadConfig(undefined, { FACEGATE_LIVENESS_MODE: 'report' }, [
      {
        key: 'cameras',
        value: [
          { name: 'door', url: 'rtsp://127.0.0.1:1/a' },
          { name: 'lobby', url: 'rtsp://127.0.0.1:1/b', liveness: { mode: 'off' } },
          { name: 'gate', url: 'rtsp://127.0.0.1:1/c', liveness: { threshold: 1.5, maxFrames: 30 } },
        ],
      },
    ]);
    expect(loadConfig(undefined, {}).liveness).toEqual(DEFAULT_LIVENESS);
    expect(c.cameras.map((cam) => livenessPolicy(c, cam))).toEqual([
      { ...DEFAULT_LIVENESS, mode: 'report' },
      { ...DEFAULT_LIVENESS, mode: 'off' },
      { ...DEFAULT_LIVENESS, mode: 'report', threshold: 1.5, maxFrames: 30 },
    ]);
    expect(() => loadConfig(undefined, { FACEGATE_LIVENESS_MODE: 'sometimes' })).toThrow(
      /liveness\.mode: must be one of the possible values: \["off","report","require"\].*\(set by FACEGATE_LIVENESS_MODE\)/,
    );
  });

  it('refuses doors that name a camera not configured or a bad setting, naming each', () => {
    const doors = (list: unknown) => () =>
      loadConfig(undefined, {}, [
        { key: 'cameras', value: [{ name: 'porch', url: 'rtsp://127.0.0.1:1/a' }] },
        { key: 'doors', value: list },
      ]);
    expect(
      doors([{ name: 'front', cameras: ['porch'], allow: { groups: ['residents'] } }])().doors,
    ).toHaveLength(1);
    expect(doors([{ name: 'front', cameras: ['garage'], allow: {} }])).toThrow(
      /doors: "front": camera "garage" is not in cameras \(porch\)/,
    );
    let message = '';
    try {
      doors([
        {
          name: 'front',
          cameras: ['porch'],
          allow: { people: 'ann' },
          schedule: [{ days: ['moon'], from: '25:00', to: '07:00' }],
          colour: 'red',
        },
        { name: 'front', cameras: ['porch'], allow: {} },
      ])();
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/doors\[0\] \(front\): allow\.people must be person ids, not "ann"/);
    expect(message).toMatch(
      /doors\[0\] \(front\): schedule\.0\.days\.0 must be sun, mon, tue, wed, thu, fri, sat, not "moon"/,
    );
    expect(message).toMatch(/doors\[0\] \(front\): schedule\.0\.from must be HH:MM, local time, not "25:00"/);
    expect(message).toMatch(/doors\[0\] \(front\): colour unexpected property/);
    expect(message).toMatch(/doors\[1\] \(front\): the name "front" is used twice/);
    expect(message).not.toMatch(/value was/);
  });

  it('takes a file, then FACEGATE_* variables', () => {
    const file = join(dir, 'ok.json');
    writeFileSync(file, JSON.stringify({ match: { threshold: 0.5 }, stateDir: '/var/lib/facegate' }));
    expect(loadConfig(file, {}).match.threshold).toBe(0.5);
    expect(loadConfig(file, { FACEGATE_MATCH_THRESHOLD: '0.45' }).match.threshold).toBe(0.45);
    expect(loadConfig(undefined, { FACEGATE_MODELS_PROVIDERS: 'cuda,cpu' }).models.providers).toEqual([
      'cuda',
      'cpu',
    ]);
  });

  it('reads switches in the environment as people write them, and refuses the rest', () => {
    const int8 = (v: string) =>
      loadConfig(undefined, { FACEGATE_MODELS_ENCODER: 'dlib', FACEGATE_MODELS_INT8: v }).models.int8;
    for (const v of ['1', 'true', 'yes', 'on', 'TRUE']) expect(int8(v), v).toBe(true);
    // convict's own Boolean took every string but "false" as true: FACEGATE_MODELS_INT8=0 was on.
    for (const v of ['0', 'false', 'no', 'off']) expect(int8(v), v).toBe(false);
    expect(() => int8('maybe')).toThrow(/models\.int8: must be true or false .*value was "maybe"/);
    // Only dlib has an int8 graph: with the default encoder the switch is refused, not ignored.
    expect(() => loadConfig(undefined, { FACEGATE_MODELS_INT8: '1' })).toThrow(
      /models\.int8: only the dlib encoder has an int8 graph; models\.encoder is mobilefacenet/,
    );
  });

  it('refuses door captures with a comparator whose scores are not distances, and bad capture settings', () => {
    const file = join(dir, 'captures.json');
    const captures = (doorCaptures: object, match: object = {}) => {
      writeFileSync(file, JSON.stringify({ enrollment: { doorCaptures }, match }));
      return () => loadConfig(file, {});
    };
    expect(captures({ enabled: true })().enrollment.doorCaptures).toEqual({
      enabled: true,
      maxPerPerson: 3,
      maxDistance: 0.9,
      minMargin: 0.1,
    });
    expect(captures({ enabled: true }, { comparator: 'binary-head', headFile: file })).toThrow(
      /enrollment\.doorCaptures\.enabled: needs match\.comparator 'distance'; it is 'binary-head'/,
    );
    expect(captures({ maxPerPerson: 0 })).toThrow(/maxPerPerson must be a whole number from 1 to 20/);
    expect(captures({ maxDistance: 1.5 })).toThrow(/doorCaptures\.maxDistance: must be between 0 and 1/);
  });

  it('lists every problem with its key', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        match: { threshold: -1, colour: 'red' },
        quality: { maxOutside: 3 },
        detector: { maxInputSide: 4000 },
      }),
    );
    let message = '';
    try {
      loadConfig(file, { FACEGATE_MODELS_PROVIDERS: 'gpu' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/bad\.json: invalid configuration/);
    expect(message).toMatch(/match\.threshold/);
    expect(message).toMatch(/match\.colour: not a setting/);
    expect(message).toMatch(/models\.providers: .* \(set by FACEGATE_MODELS_PROVIDERS\)/);
    expect(message).toMatch(/quality\.maxOutside/);
    expect(message).toMatch(/models\.providers: must be a non-empty list of tensorrt, cuda, cpu/);
    expect(message).toMatch(
      /detector\.maxInputSide must be at most 2560: the detector computes 5 pyramid levels/,
    );
  });

  it('makes the command line exit 78 on a bad config, and apply a good one', async () => {
    const err: string[] = [];
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    const bad = join(dir, 'bad2.json');
    writeFileSync(bad, '{"match": {"threshold": "high"}}');
    expect(await main(['--config', bad, 'verify', 'a.jpg', 'b.jpg'], io)).toBe(78);
    expect(err.join('\n')).toMatch(/match\.threshold/);
    const good = join(dir, 'good.json');
    writeFileSync(good, '{"match": {"threshold": 0.01}}');
    expect(
      await main(['verify', samplePhoto('sample2.jpg'), samplePhoto('sample2.jpg'), `--config=${good}`], io),
    ).toBe(0);
    expect(JSON.parse(out.at(-1)!)).toMatchObject({ threshold: 0.01 });
  });

  it('makes `run` exit 78 naming every problem: unknown key, wrong type, camera without URL, unreadable secret', async () => {
    const err: string[] = [];
    const io = { out: () => undefined, err: (l: string) => err.push(l) };
    const file = join(dir, 'run-bad.json');
    writeFileSync(file, JSON.stringify({ colour: 'red', match: { threshold: 'high' } }));
    const code = await main(
      [
        ...['run', '--config', file, '--camera', 'door='],
        ...['--mqtt-password-file', join(dir, 'no-such-secret')],
        ...['--set', 'gallery.bearerTokenFile=' + dir],
      ],
      io,
    );
    expect(code).toBe(78);
    const text = err.join('\n');
    expect(text).toMatch(/colour: not a setting/);
    expect(text).toMatch(/match\.threshold/);
    expect(text).toMatch(/cameras\[0\] \(door\): needs a url/);
    expect(text).toMatch(/mqtt\.passwordFile: cannot read .*no-such-secret: no such file/);
    expect(text).toMatch(/gallery\.bearerTokenFile: .* is not a file/);
    // --set reaches every key, and a key outside the schema is named.
    err.length = 0;
    expect(await main(['run', '--set', 'match.colour=1'], io)).toBe(78);
    expect(err.join('\n')).toMatch(/match\.colour: not a setting/);
  });

  it('says which variable set a bad value, suggests the key meant, and gives line and column of a JSON error', () => {
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    };
    expect(message(() => loadConfig(undefined, { FACEGATE_MATCH_THRESHOLD: 'abc' }))).toMatch(
      /match\.threshold: .* \(set by FACEGATE_MATCH_THRESHOLD\)$/,
    );
    const typo = join(dir, 'typo.json');
    writeFileSync(typo, JSON.stringify({ recogniton: { window: 3 } }));
    expect(message(() => loadConfig(typo, {}))).toMatch(
      /recogniton\.window: not a setting \(did you mean recognition\.window\?\)/,
    );
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{\n  "match": {\n    "threshold": 0.5,\n  }\n}\n');
    expect(message(() => loadConfig(broken, {}))).toMatch(
      /broken\.json: invalid configuration:\n {2}not valid JSON at line 4, column 3: /,
    );
    expect(message(() => loadConfig(join(dir, 'absent.json'), {}))).toMatch(
      /absent\.json: invalid configuration:\n {2}cannot read it: no such file or folder \(ENOENT\)/,
    );
  });

  it('states the same defaults in the prose docs as the schema', () => {
    // "by default (`match.aggregation: 'mean'`)": each such statement names a setting and its default.
    const settings = schemaSettings();
    const docs = readdirSync(join(PROJECT_ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => [f, readFileSync(join(PROJECT_ROOT, 'docs', f), 'utf8')] as const);
    let statements = 0;
    for (const [file, text] of docs)
      for (const m of text.matchAll(/by default \(`([\w.]+): '([^']+)'`/g)) {
        statements++;
        const setting = settings.find((x) => x.key === m[1] || x.key.endsWith(`.${m[1]}`));
        expect(setting, `${file}: ${m[0]}`).toBeDefined();
        expect(String(setting!.default), `${file}: ${m[0]}`).toBe(m[2]);
      }
    // "`pipeline.maxFrameAgeMs` (2 s)", "`recognition.mirrorBand` (0.2)": a setting and its default.
    for (const [file, text] of docs)
      for (const m of text.matchAll(/`([a-z]+\.[\w.]+)`,? \((\d+(?:\.\d+)?)( s\b| ms\b)?/g)) {
        const setting = settings.find((x) => x.key === m[1]);
        if (!setting || typeof setting.default !== 'number') continue;
        statements++;
        const value = Number(m[2]) * (m[3] === ' s' && setting.key.endsWith('Ms') ? 1000 : 1);
        expect(value, `${file}: ${m[0]}`).toBe(setting.default);
      }
    expect(statements).toBeGreaterThan(5);
  });

  // Each camera or broker setting that ffmpeg, the frame parser or mqtt.js cannot use: refused by
  // `config --check` and by `run` alike, exit 78, with the same line naming it.
  it.each([
    [
      { fps: 'abc' },
      /cameras\[0\] \(door\): fps must be frames per second to analyse: a number above 0 and at most 60, not "abc"/,
    ],
    [{ fps: 0 }, /fps must be .* not 0$/m],
    [{ fps: 100000 }, /fps must be .* not 100000$/m],
    [{ width: 0 }, /width must be a whole number of pixels from 32 to 4096 .* not 0$/m],
    [{ width: -5 }, /width must be .* not -5$/m],
    [{ height: 1e9 }, /height must be .* not 1000000000$/m],
    [{ transport: 'quic' }, /transport must be "tcp" or "udp", not "quic"/],
    [{ url: 'http://cam/stream' }, /url http:\/\/cam\/stream: unsupported scheme "http:"/],
    [{ watchdogMs: 'soon' }, /watchdogMs must be whole milliseconds from 1000 to 600000 .* not "soon"/],
    [{ ioTimeoutMs: 10 }, /ioTimeoutMs must be .* not 10$/m],
    [{ inputOptions: ['-i', 'other.mp4'] }, /inputOptions must not add an input \(-i\)/],
    [{ inputOptions: '-c:v h264' }, /inputOptions must be a list of at most 32 ffmpeg input options/],
    [
      { fps: 0.1 },
      /watchdogMs \(5000, the default\) must be at least two frame intervals \(20000 ms at 0\.1 fps\)/,
    ],
    [{ name: 'front/door' }, /name must be letters, digits, _ or -/],
    [
      { liveness: { mode: 'maybe' } },
      /liveness must be this camera's own liveness settings .* not \{"mode":"maybe"\}/,
    ],
    [{ liveness: { maxFrames: 1 } }, /liveness must be .* not \{"maxFrames":1\}/],
    [
      { liveness: { minFrames: 30 } },
      /cameras: "door": liveness: minFrames \(30\) must not exceed maxFrames \(20\)/,
    ],
    [{ watchdog: 5000 }, /unknown key "watchdog" \(known: name, url, transport, fps/],
    [
      { mqtt: { url: 'ftp://x' } },
      /mqtt\.url: ftp:\/\/x: unsupported scheme "ftp:" \(use mqtt:\/\/, mqtts:\/\/, ws:\/\/, wss:\/\/\)/,
    ],
  ] as [Record<string, unknown>, RegExp][])(
    'refuses %j in config --check and run alike',
    async (setting, message) => {
      const file = join(dir, 'refused.json');
      const { mqtt, ...camera } = setting;
      writeFileSync(
        file,
        JSON.stringify({
          cameras: [{ name: 'door', url: 'rtsp://admin:CamS3cretPw@127.0.0.1:1/x', ...camera }],
          ...(mqtt ? { mqtt } : {}),
        }),
      );
      const said: string[] = [];
      for (const command of [['config', '--check'], ['run']]) {
        const err: string[] = [];
        const io = { out: () => undefined, err: (l: string) => err.push(l) };
        expect(await main([...command, '--config', file], io), command.join(' ')).toBe(78);
        expect(err.join('\n')).toMatch(message);
        expect(err.join('\n')).not.toContain('CamS3cretPw');
        said.push(err.join('\n').replace(/^facegate( run)?: /, ''));
      }
      expect(said[1]).toBe(said[0]);
    },
  );

  it("accepts Jetson's hardware decoding options for a camera (docs/jetson.md)", async () => {
    const file = join(dir, 'jetson.json');
    for (const inputOptions of [
      ['-c:v', 'h264_nvv4l2dec'],
      ['-hwaccel', 'cuda', '-hwaccel_output_format', 'cuda'],
      ['-threads', '2'],
    ]) {
      writeFileSync(
        file,
        JSON.stringify({ cameras: [{ name: 'door', url: 'rtsp://127.0.0.1:1/x', inputOptions }] }),
      );
      const err: string[] = [];
      expect(
        await main(['config', '--check', '--config', file], {
          out: () => undefined,
          err: (l) => err.push(l),
        }),
      ).toBe(0);
      expect(err).toEqual([]);
    }
  });

  it('prints camera and broker URLs without their passwords', async () => {
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: () => undefined };
    const file = join(dir, 'secret-urls.json');
    writeFileSync(
      file,
      JSON.stringify({
        cameras: [{ name: 'door', url: 'rtsp://camuser:CamS3cretPw@127.0.0.1:1/x' }],
        mqtt: { url: 'mqtts://fg:BrokerPw@127.0.0.1:8883' },
      }),
    );
    expect(await main(['config', '--print', '--config', file], io)).toBe(0);
    const printed = out.join('\n');
    expect(printed).not.toMatch(/CamS3cretPw|BrokerPw/);
    expect(JSON.parse(printed)).toMatchObject({
      cameras: [{ url: 'rtsp://camuser:***@127.0.0.1:1/x' }],
      mqtt: { url: 'mqtts://fg:***@127.0.0.1:8883' },
    });
  });

  it('applies --set with JSON values, and prints the config and its schema', async () => {
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: () => undefined };
    expect(loadConfig(undefined, {}, [{ key: 'match.threshold', value: 0.42 }]).match.threshold).toBe(0.42);
    expect(await main(['config', '--print'], io)).toBe(0);
    expect(JSON.parse(out.at(-1)!)).toEqual(loadConfig(undefined, process.env));
    expect(await main(['config', '--print-schema'], io)).toBe(0);
    const settings = JSON.parse(out.at(-1)!) as { key: string; env?: string; allowed?: unknown[] }[];
    expect(settings.find((s) => s.key === 'match.threshold')).toMatchObject({
      default: 0,
      env: 'FACEGATE_MATCH_THRESHOLD',
    });
    expect(settings.find((s) => s.key === 'models.encoder')?.allowed).toEqual(['dlib', 'mobilefacenet']);
    expect(settings.find((s) => s.key === 'match.aggregation')?.allowed).toEqual(['mean', 'best']);
    expect(await main(['config', '--check'], io)).toBe(0);
  });

  it('keeps config/default.json and docs/configuration.md in step with the schema (make config-docs)', () => {
    expect(readFileSync(join(PROJECT_ROOT, 'config/default.json'), 'utf8')).toBe(configDefaults());
    expect(readFileSync(join(PROJECT_ROOT, 'docs/configuration.md'), 'utf8')).toBe(configReference());
  });
});
