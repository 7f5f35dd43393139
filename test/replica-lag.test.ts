import { describe, expect, it } from 'vitest';
import { replicaLagMs } from '../src/db/replicas.ts';

// How far behind a read replica is counted, from what each check reads on it and on
// the primary (replicas.postgres.test.ts runs the checks against a real replica).

describe('replica lag', () => {
  it('is none once the replica has replayed the primary position, whatever its last commit', () => {
    expect(replicaLagMs(100n, 5_000, 100n)).toBe(0);
    expect(replicaLagMs(120n, null, 100n)).toBe(0);
  });

  it('is the age of the last replayed commit while the replica is behind, or without the primary', () => {
    expect(replicaLagMs(90n, 250, 100n)).toBe(250);
    expect(replicaLagMs(90n, 250, null)).toBe(250);
    // Clocks a little apart never make it negative.
    expect(replicaLagMs(90n, -3, 100n)).toBe(0);
  });

  it('is unknown, so never within a limit, for a replica behind the primary with no commit replayed since it started', () => {
    expect(replicaLagMs(90n, null, 100n)).toBe(Infinity);
    // With no primary to compare with, such a replica is taken as current.
    expect(replicaLagMs(90n, null, null)).toBe(0);
  });
});
