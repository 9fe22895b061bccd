import { describe, expect, it } from 'vitest';
import { classifyFailure, ffmpegArgs } from '../../src/camera/ffmpeg-session.js';
import { FrameParser, type Frame } from '../../src/camera/frame-parser.js';
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
});

describe('ffmpeg', () => {
  it('reads RTSP with the configured transport and timeout, and writes raw RGB at the configured rate and size', () => {
    const args = ffmpegArgs({
      input: { kind: 'rtsp', url: 'rtsp://h/x', redacted: 'rtsp://h/x' },
      transport: 'udp',
      fps: 5,
      size: { width: 640, height: 360 },
      ioTimeoutMs: 3000,
      watchdogMs: 5000,
      inputOptions: ['-c:v', 'h264_cuvid'],
    });
    expect(args.join(' ')).toContain(
      '-rtsp_transport udp -timeout 3000000 -probesize 32768 -analyzeduration 0 -c:v h264_cuvid -i rtsp://h/x',
    );
    expect(args.join(' ')).toContain('-vf fps=5,scale=640:360 -an -f rawvideo -pix_fmt rgb24 pipe:1');
  });

  it('names the usual failures', () => {
    expect(classifyFailure('rtsp://127.0.0.1:1/cam: Connection refused')).toBe('refused');
    expect(classifyFailure('method DESCRIBE failed: 404 Not Found')).toBe('not found');
    expect(classifyFailure('method DESCRIBE failed: 401 Unauthorized')).toBe('unauthorized');
    expect(classifyFailure('/tmp/x.mp4: Invalid data found when processing input')).toBe('not video');
    expect(classifyFailure('all fine')).toBeUndefined();
  });
});
