// Child process for orphan.test.ts: reads a camera, prints READY <ffmpeg pid> once frames flow,
// then waits to be killed.
import { CameraSource } from '../../src/camera/camera-source.js';

const camera = new CameraSource({ name: 'orphan', url: process.argv[2]!, width: 160, height: 90, fps: 5 });
camera.on('frame', () => {
  process.stdout.write(`READY ${camera.ffmpegPid}\n`);
  camera.removeAllListeners('frame');
});
camera.start();
setInterval(() => undefined, 1000);
