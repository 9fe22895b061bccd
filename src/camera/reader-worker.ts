// The thread behind a FrameReader (frame-reader.ts): runs one ffmpeg session and reads its pipe as
// fast as ffmpeg writes, whatever the main thread is doing, so no frame waits upstream (in the
// pipe, in ffmpeg, in the camera's TCP queue). It keeps only the newest frame; the main thread
// hears of each arrival (a few bytes and the frame's small grey copy for motion gating) and takes
// the newest frame's pixels only when it will analyse them. Frames not taken, and taken frames
// once copied to the main thread, give their buffers back to the parser: a camera's reader holds
// the same few frame buffers for as long as it runs.
import { parentPort, workerData } from 'node:worker_threads';
import { FfmpegSession } from './ffmpeg-session.js';
import type { FromReader, ReaderData, TakenFrame, ToReader } from './frame-reader.js';
import { thumbnailOf } from './motion.js';

const port = parentPort!;
const post = (m: FromReader) => port.postMessage(m);

let newest: TakenFrame | undefined;
const { session: options, framesBefore } = workerData as ReaderData;
/** Numbered on from the camera's earlier sessions, so a frame's number is its camera's. */
let sequence = framesBefore;
const session = new FfmpegSession(options, {
  frame: (f) => {
    // The grey copy for motion gating is made here, off the main thread.
    const frame = { ...f, sequence: ++sequence, thumbnail: thumbnailOf(f) };
    if (newest) session.recycle(newest.data);
    newest = frame;
    const { data: _data, ...info } = frame;
    post({ kind: 'arrived', frame: info });
  },
  stall: (reason) => post({ kind: 'stall', reason }),
});

port.on('message', (m: ToReader) => {
  if (m.kind === 'take') {
    const frame = newest;
    newest = undefined;
    // Copied (postMessage copies before it returns), so the buffer is free for a later frame.
    post({ kind: 'frame', id: m.id, frame: frame ?? null });
    if (frame) session.recycle(frame.data);
  } else {
    void session.stop(m.reason, m.polite);
  }
});

void session.start().then(() => post({ kind: 'started', pid: session.pid }));
void session.ended.then((end) => {
  newest = undefined;
  post({ kind: 'ended', end });
  port.close(); // nothing else keeps this thread alive: it exits
});
