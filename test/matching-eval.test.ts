import { describe, expect, it } from 'vitest';
import { evaluate } from '../bench/matching/evaluate.ts';
import { missedTargets, table } from '../bench/matching/report.ts';
import { loadConfig } from '../src/config.ts';
import { app, TEST_JWT_SECRET } from './helpers/app.ts';

// A small set of npm run eval:matching: generated people loaded through the API, and
// the matching held to its targets (README, "Matching quality").

describe('matching quality on a small generated set', () => {
  it('meets every target: resolve recall 1.0, auto-linking precision ≥ 0.995, suggestion recall ≥ 0.95', async () => {
    const auth = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET }).auth;
    const { population, scores } = await evaluate({ fetch: app.fetch, secret: TEST_JWT_SECRET, auth, people: 80, seed: 7 });
    // The set holds every hard case, so the targets are measured on them.
    expect(population.users.length).toBeGreaterThan(80); // second accounts
    expect(population.identities.length).toBeGreaterThan(0);
    expect(scores.resolve.sharedAmbiguous.of).toBeGreaterThan(0); // household phones, team mailboxes
    expect(scores.suggestions.recallSharing.of).toBeGreaterThan(10);
    expect(scores.suggestions.precision.hit).toBeLessThan(scores.suggestions.precision.of); // different people share values
    expect(scores.auto.count).toBeGreaterThan(0);
    expect(missedTargets(scores), table(population, scores)).toEqual([]);
  }, 120_000);
});
