// Child process for store.test.ts: opens the gallery and, inside one write transaction, keeps
// inserting people; prints IN_TRANSACTION once the transaction has written rows, then keeps
// going until the parent kills it. With COMMIT as argument it commits and prints COMMITTED.
import { GalleryStore } from '../../src/gallery/store.js';

const [path, mode] = process.argv.slice(2) as [string, string];
const store = new GalleryStore(path);
const quality = { score: 1, eyeDistance: 50, sharpness: 100, yaw: 0, roll: 0, outside: 0 };
const image = (i: number) => ({
  bytes: Buffer.alloc(4096, i),
  source: `p${i}.jpg`,
  embedding: new Float32Array(128).fill(i / 1000),
  quality,
});
store.write(() => {
  for (let i = 0; ; i++) {
    store.putPerson({ id: `new-${i}`, name: `New ${i}` }, [image(i)], 'model-a');
    if (i === 50) process.stdout.write('IN_TRANSACTION\n');
    if (mode === 'COMMIT' && i === 100) break;
    if (i > 1e6) break; // the parent kills us long before
  }
});
process.stdout.write('COMMITTED\n');
store.close();
