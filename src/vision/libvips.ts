// sharp, set up once for every caller in facegate. sharp runs libvips on one thread on glibc
// without jemalloc (to limit malloc fragmentation from many short-lived threads); facegate's
// images are few, large, fixed-size buffers, and on 2 cores two threads take a 720p resize from
// 2.9 to 1.9 ms.
import { availableParallelism } from 'node:os';
import sharp from 'sharp';

sharp.concurrency(availableParallelism());

export default sharp;
