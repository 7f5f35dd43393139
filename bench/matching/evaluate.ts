import type { AuthSettings } from '../../src/config.ts';
import { mintDevToken } from '../../src/modules/auth/dev.ts';
import { generate, type Population } from './generate.ts';
import { loadPopulation, type Call, type GraphQLAnswer } from './load.ts';
import { score, type Scores } from './score.ts';

// One evaluation: generate, load through the API as a freshly signed-in admin, score.
// Shared by `npm run eval:matching` and its test (test/matching-eval.test.ts).

type Fetch = (url: string, init: RequestInit) => Promise<Response> | Response;

export interface EvaluateOptions {
  /** The server's fetch (in process: the app's). */
  fetch: Fetch;
  /** The secret the server verifies HS256 tokens with, and its settings. */
  secret: string;
  auth: AuthSettings;
  people: number;
  seed: number;
}

export async function evaluate(options: EvaluateOptions): Promise<{ population: Population; scores: Scores; seconds: { load: number; score: number } }> {
  const population = generate(options);
  // A new organization each run, so runs on one PostgreSQL database do not meet.
  const slug = `eval-${options.seed}-${Date.now().toString(36)}`;
  const email = `admin@${slug}.test`;
  // The admin signs in for the first time: the server creates them (provisioning).
  const token = await mintDevToken(
    { id: '', email, authSubject: `eval|${email}`, name: 'Evaluation', isSystemAdmin: false },
    { secret: options.secret, settings: options.auth, ttlSeconds: 3600 },
  );
  const call: Call = async (query, variables = {}, organizationId) => {
    const response = await options.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        ...(organizationId ? { 'x-organization-id': organizationId } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as GraphQLAnswer;
  };
  const t0 = performance.now();
  const loaded = await loadPopulation(call, population, slug);
  const t1 = performance.now();
  const scores = await score(call, population, loaded);
  return { population, scores, seconds: { load: (t1 - t0) / 1000, score: (performance.now() - t1) / 1000 } };
}
