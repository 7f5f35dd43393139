import fcBase from 'fast-check';

// Property tests draw their inputs from one seed per test file, printed so a failure
// (in CI or anywhere) can be replayed exactly: FC_SEED=<seed> npx vitest run <file>.
// PROPERTY_RUNS=<n> runs every property of a file n times instead of its own count,
// to search a wider space locally than the suite can afford on every run.

const given = process.env.FC_SEED;
if (given !== undefined && !/^-?\d+$/.test(given)) throw new Error(`FC_SEED must be an integer, got ${JSON.stringify(given)}`);
const runs = process.env.PROPERTY_RUNS;
if (runs !== undefined && !/^[1-9]\d*$/.test(runs)) throw new Error(`PROPERTY_RUNS must be a positive integer, got ${JSON.stringify(runs)}`);

/** The seed of this run: FC_SEED when set, otherwise a fresh one. */
export const seed = given !== undefined ? Number(given) : (Math.random() * 0x7fffffff) | 0;

fcBase.configureGlobal({ seed });
console.log(`fast-check seed ${seed} (replay with FC_SEED=${seed})${runs ? `, ${runs} runs a property` : ''}`);

/** fast-check, with PROPERTY_RUNS (when set) in place of each property's own numRuns. */
export const fc: typeof fcBase =
  runs === undefined ? fcBase : { ...fcBase, assert: ((property, parameters) => fcBase.assert(property, { ...parameters, numRuns: Number(runs) })) as typeof fcBase.assert };
// The types of fast-check, under the same name (fc.Arbitrary).
export declare namespace fc {
  export type Arbitrary<T> = import('fast-check').Arbitrary<T>;
}
