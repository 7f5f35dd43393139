// Moments for reads as of the past: history is written with transaction time, so a test
// waits a little on each side of the moment it takes.

const pause = () => new Promise((r) => setTimeout(r, 3));

/** A moment strictly after everything written so far and before anything written next. */
export async function momentNow(): Promise<Date> {
  await pause();
  const at = new Date();
  await pause();
  return at;
}
