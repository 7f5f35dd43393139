import fc from 'fast-check';

// Property tests draw their inputs from one seed per test file, printed so a failure
// (in CI or anywhere) can be replayed exactly: FC_SEED=<seed> npx vitest run <file>.

const given = process.env.FC_SEED;
if (given !== undefined && !/^-?\d+$/.test(given)) throw new Error(`FC_SEED must be an integer, got ${JSON.stringify(given)}`);

/** The seed of this run: FC_SEED when set, otherwise a fresh one. */
export const seed = given !== undefined ? Number(given) : (Math.random() * 0x7fffffff) | 0;

fc.configureGlobal({ seed });
console.log(`fast-check seed ${seed} (replay with FC_SEED=${seed})`);

export { fc };
