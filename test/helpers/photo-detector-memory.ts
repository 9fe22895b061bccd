// For test/inference/pipeline.test.ts, in a process of its own: resident MiB after five 720p
// frames, after a 12-megapixel photo detected in a session of its own (photo: true) and five
// more frames, and after the same photo on the cameras' shared detector and five more frames.
import { FaceEngine } from '../../src/inference/faces.js';
import { decodeImage } from '../../src/vision/image.js';
import { faceCrop, faceOnGrey } from './faces.js';

const engine = await FaceEngine.open();
const face = await faceCrop(1);
// A frame and a photo, each with the face on grey.
const onGrey = async (width: number, height: number, faceWidth: number) =>
  decodeImage(
    await (
      await faceOnGrey(face, { width, height }, faceWidth, { left: width / 3, top: height / 4 })
    )
      .png()
      .toBuffer(),
  );
const frame = await onGrey(1200, 720, 300);
const photo = await onGrey(3999, 3000, 1200);
const frames = async (): Promise<number> => {
  for (let i = 0; i < 5; i++)
    if ((await engine.analyze(frame, { select: 'all' })).length !== 1)
      throw new Error('the frame lost its face');
  return process.memoryUsage().rss / 2 ** 20;
};
const before = await frames();
const [own] = await engine.analyze(photo, { photo: true });
const afterOwn = await frames();
const [shared] = await engine.analyze(photo);
const afterShared = await frames();
await engine.release();
const sameBox = JSON.stringify(own?.box) === JSON.stringify(shared?.box) && own ? 1 : 0;
console.log(JSON.stringify({ before, afterOwn, afterShared, sameBox }));
