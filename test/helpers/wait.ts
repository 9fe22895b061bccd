// Waiting in integration tests: for a condition with a deadline that names what was awaited.
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves with the milliseconds it took for `cond` to hold; fails after `timeoutMs`. `cond` may
 * be asynchronous (an HTTP request), and is then asked again once it has answered.
 */
export async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
  return Date.now() - t0;
}
