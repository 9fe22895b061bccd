import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cameraScript, classifyFailure, ffmpegArgs, FfmpegSession } from '../../src/camera/ffmpeg-session.js';
import { FrameParser, type Frame } from '../../src/camera/frame-parser.js';
import { StillPictureDetector } from '../../src/camera/still-picture.js';
import { parseCameraInput, redactText, redactUrl } from '../../src/camera/url.js';

describe('camera URLs', () => {
  it('redacts passwords, keeps user names', () => {
    expect(redactUrl('rtsp://admin:s3cr3t@10.0.0.5:554/stream1')).toBe(
      'rtsp://admin:***@10.0.0.5:554/stream1',
    );
    expect(redactUrl('rtsp://token@cam/x')).toBe('rtsp://token@cam/x');
    expect(redactUrl('rtsp://cam/x')).toBe('rtsp://cam/x');
    expect(redactText("[rtsp @ 0x1] method DESCRIBE failed for 'rtsp://u:p%40ss@h/x': 401")).toBe(
      "[rtsp @ 0x1] method DESCRIBE failed for 'rtsp://u:***@h/x': 401",
    );
  });

  it('accepts rtsp, rtsps, file URLs and file paths; refuses other schemes and bad URLs with the URL redacted', () => {
    expect(parseCameraInput('rtsp://u:p@127.0.0.1:8554/cam')).toMatchObject({
      kind: 'rtsp',
      redacted: 'rtsp://u:***@127.0.0.1:8554/cam',
    });
    expect(parseCameraInput('rtsps://cam.local/x').kind).toBe('rtsp');
    expect(parseCameraInput('file:///tmp/clip.mp4')).toMatchObject({ kind: 'file', path: '/tmp/clip.mp4' });
    expect(() => parseCameraInput('http://u:pw@cam/mjpeg')).toThrow(
      /^http:\/\/u:\*\*\*@cam\/mjpeg: unsupported scheme "http:"/,
    );
    expect(() => parseCameraInput('rtsp://u:pw@:554/x')).toThrow(/rtsp:\/\/u:\*\*\*@:554\/x: /);
    expect(() => parseCameraInput('no/such/clip.mp4')).toThrow(/no\/such\/clip\.mp4: no such file/);
  });
});

describe('FrameParser', () => {
  it('cuts a stream split at arbitrary points into whole frames', () => {
    const frames: Frame[] = [];
    const p = new FrameParser(
      4,
      2,
      (f) => frames.push(f),
      () => 42,
    );
    const stream = Uint8Array.from({ length: 4 * 2 * 3 * 3 + 5 }, (_, i) => i % 251);
    p.push(stream.subarray(0, 0)); // an empty read is harmless
    let at = 0;
    for (const size of [1, 7, 30, 2, 100]) {
      p.push(stream.subarray(at, Math.min(stream.length, at + size)));
      at += size;
      if (at >= stream.length) break;
    }
    expect(frames.map((f) => f.sequence)).toEqual([1, 2, 3]);
    expect(frames[1]!.data).toEqual(stream.subarray(24, 48));
    expect(frames[0]!.capturedAt).toBe(42);
    expect(p.pending).toBe(5);
  });

  it('reads straight into the frame being filled, and fills given-back buffers again', () => {
    const frames: Frame[] = [];
    const p = new FrameParser(2, 1, (f) => frames.push(f));
    const write = (bytes: number[]) => {
      const space = p.space();
      space.set(bytes);
      p.wrote(bytes.length);
    };
    write([1, 2, 3]);
    write([4, 5, 6]);
    write([7, 8]);
    expect(p.space().length).toBe(4); // the rest of the second frame
    write([9, 10, 11, 12]);
    expect(frames.map((f) => Array.from(f.data))).toEqual([
      [1, 2, 3, 4, 5, 6],
      [7, 8, 9, 10, 11, 12],
    ]);
    // The first frame's buffer, given back, holds the third frame; a buffer of another size is not taken.
    const first = frames[0]!.data;
    p.recycle(new Uint8Array(5));
    p.recycle(first);
    write([13, 14, 15, 16, 17, 18]);
    write([19, 20, 21, 22, 23, 24]);
    expect(frames[3]!.data).toBe(first);
    expect(Array.from(first)).toEqual([19, 20, 21, 22, 23, 24]);
    expect(Array.from(frames[2]!.data)).toEqual([13, 14, 15, 16, 17, 18]);
  });
});

describe('frame parser sizes', () => {
  it('refuses a frame size that is zero, negative or fractional instead of looping on empty frames', () => {
    for (const [w, h] of [
      [0, 720],
      [1280, 0],
      [-5, 720],
      [12.5, 10],
    ] as const)
      expect(() => new FrameParser(w, h, () => undefined)).toThrow(
        `frame size ${w}x${h}: width and height must be whole numbers above 0`,
      );
  });
});

describe('ffmpeg', () => {
  const rtsp = (url: string) => ({
    input: { kind: 'rtsp' as const, url, redacted: redactUrl(url) },
    transport: 'udp' as const,
    fps: 5,
    fit: { width: 640, height: 360 },
    ioTimeoutMs: 3000,
    watchdogMs: 5000,
    inputOptions: ['-c:v', 'h264_cuvid'],
  });

  it('reads RTSP with the configured transport and timeout, and writes raw RGB at the configured rate, fitted', () => {
    const args = ffmpegArgs(rtsp('rtsp://h/x'));
    expect(args.join(' ')).toContain(
      '-rtsp_transport udp -timeout 3000000 -probesize 32768 -analyzeduration 0 -threads 1 -c:v h264_cuvid -i rtsp://h/x',
    );
    // Scaled down to fit 640x360 with the camera's aspect ratio, never enlarged.
    expect(args.join(' ')).toContain(
      "-vf fps=5,scale='min(640,iw)':'min(360,ih)':force_original_aspect_ratio=decrease -an -f rawvideo -pix_fmt rgb24 pipe:1",
    );
  });

  it('keeps credentials out of the command line: the camera opens from a script file', () => {
    const o = rtsp("rtsp://admin:pa'ss@h:8554/x");
    expect(() => ffmpegArgs(o)).toThrow(
      /rtsp:\/\/admin:\*\*\*@h:8554\/x: its credentials need a script file/,
    );
    const args = ffmpegArgs(o, '/run/x.ffconcat');
    expect(args.join(' ')).not.toContain('pa');
    expect(args.join(' ')).toContain(
      '-f concat -safe 0 -protocol_whitelist file,rtsp,rtsps,rtp,srtp,udp,tcp,tls,crypto -probesize 32768 -analyzeduration 0 -threads 1 -c:v h264_cuvid -i /run/x.ffconcat',
    );
    expect(cameraScript(o)).toBe(
      [
        'ffconcat version 1.0',
        "file 'rtsp://admin:pa'\\''ss@h:8554/x'",
        'option rtsp_transport udp',
        'option timeout 3000000',
        'option probesize 32768',
        'option analyzeduration 0',
        '',
      ].join('\n'),
    );
    expect(cameraScript(rtsp('rtsp://h/x'))).toBeUndefined();
  });

  it('ends saying why when ffmpeg cannot be started, and leaves no socket behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-ffmpeg-'));
    try {
      const session = new FfmpegSession(
        { ...rtsp('rtsp://127.0.0.1:1/x'), ffmpegPath: join(dir, 'no-ffmpeg'), scriptDir: dir },
        { frame: () => undefined },
      );
      await session.start();
      const end = await session.ended;
      expect(end.reason).toMatch(/^cannot start ffmpeg \(spawn .*no-ffmpeg ENOENT\)$/);
      expect(end.frames).toBe(0);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the usual failures', () => {
    expect(classifyFailure('rtsp://127.0.0.1:1/cam: Connection refused')).toBe('refused');
    expect(classifyFailure('method DESCRIBE failed: 404 Not Found')).toBe('not found');
    expect(classifyFailure('method DESCRIBE failed: 401 Unauthorized')).toBe('unauthorized');
    expect(classifyFailure('/tmp/x.mp4: Invalid data found when processing input')).toBe('not video');
    expect(classifyFailure('all fine')).toBeUndefined();
  });
});

describe('still picture', () => {
  const picture = (seed: number, noise = 0) =>
    Uint8Array.from(
      { length: 6000 },
      (_, i) => (((i * 7 + seed) % 200) + (noise ? (i * seed) % noise : 0)) & 255,
    );

  it('sees a repeated picture, and the key frames of a frozen encoder within its run', () => {
    const d = new StillPictureDetector();
    expect(d.isStill(picture(1))).toBe(false);
    expect(d.isStill(picture(1))).toBe(true);
    expect(d.isStill(picture(1))).toBe(true);
    // A key frame: the same picture with a little other rounding.
    const keyFrame = picture(1).map((v, i) => (i % 3 ? v : v + 1));
    expect(d.isStill(keyFrame)).toBe(true);
    expect(d.isStill(keyFrame)).toBe(true);
    // Something moves: live again.
    expect(d.isStill(picture(50))).toBe(false);
  });

  it('compares with its own copies: a frame buffer filled again later changes nothing', () => {
    const d = new StillPictureDetector();
    const buffer = picture(1);
    expect(d.isStill(buffer)).toBe(false);
    buffer.set(picture(50)); // the reader reuses the buffer for the next frame
    expect(d.isStill(picture(1))).toBe(true);
  });

  it('never calls a live camera still: noise changes every frame, however little', () => {
    const d = new StillPictureDetector();
    for (let k = 1; k < 30; k++)
      expect(d.isStill(picture(1, 2 + (k % 3)).map((v, i) => (i === k ? v ^ 1 : v)))).toBe(false);
  });
});
