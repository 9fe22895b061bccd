// sharp, set up once for every caller in facegate. sharp runs libvips on one thread on glibc
// without jemalloc (to limit malloc fragmentation from many short-lived threads); facegate's
// images are few, large, fixed-size buffers, and on 2 cores two threads take a 720p resize from
// 2.9 to 1.9 ms.
import { availableParallelism } from 'node:os';
import sharp from 'sharp';

sharp.concurrency(availableParallelism());
// libvips' operation cache (50 MB by default) keeps recent operations with their images, in case
// the same operation on the same input comes again. facegate never asks twice: every frame, crop
// and photo is new. Off, nothing holds a frame's pixels after its JPEG is made (issue 25).
sharp.cache(false);

export default sharp;
