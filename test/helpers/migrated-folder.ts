import { cp } from 'node:fs/promises';
import { inject } from 'vitest';

/**
 * `target` as an embedded data folder already migrated: a copy of the one the test
 * run's global setup made. For a server started for anything but its first start, whose
 * migrations would make it cost three times as much.
 */
export async function aMigratedFolder(target: string): Promise<string> {
  await cp(inject('pgliteFolder'), target, { recursive: true });
  return target;
}
