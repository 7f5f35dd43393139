import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logger, scrub, setLogger } from '../src/observability/logger.ts';
import { generateApiKey } from '../src/modules/auth/api-keys.ts';
import { maskError } from '../src/plugins/errors.ts';
import { gql, tokenFor } from './helpers/app.ts';
import { anApiKey, anOrganization, aTenantWithMember, aUser } from './helpers/factories.ts';

// Everything the server logs while serving a spread of requests (successes, bad
// input, bad tokens, unexpected errors carrying personal data) is captured and
// scanned: log lines carry ids and codes, never credentials or personal data.

const lines: Record<string, unknown>[] = [];
const previous = logger;

beforeAll(() => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  setLogger(pino({ level: 'debug', base: undefined }, sink));
});

afterAll(() => setLogger(previous));

describe('logs', () => {
  it('write one line per GraphQL request with request id, organization, operation, duration and error codes', async () => {
    const { user, organization } = await aTenantWithMember();
    await gql('query WhoAmI { __typename }', { asUser: user, organizationId: organization.id, headers: { 'x-request-id': 'req-1' } });
    const line = lines.find((l) => l.requestId === 'req-1' && l.msg === 'graphql request');
    expect(line).toMatchObject({ organizationId: organization.id, operationName: 'WhoAmI', status: 200, errorCodes: [] });
    expect(typeof line?.durationMs).toBe('number');
  });

  it('carry the organization an API key acts in, though the request names none', async () => {
    const organization = await anOrganization();
    const { secret, secretHash } = generateApiKey();
    await anApiKey(organization.id, secretHash, { role: 'ANALYST' });
    await gql('query KeyProbe { __typename }', { headers: { 'x-api-key': secret, 'x-request-id': 'req-key' } });
    const line = lines.find((l) => l.requestId === 'req-key' && l.msg === 'graphql request');
    expect(line).toMatchObject({ organizationId: organization.id, operationName: 'KeyProbe', status: 200 });
  });

  it('never contain tokens, API keys, emails, phone numbers or identifier values', async () => {
    const email = 'Very.Private@Example.com';
    const user = await aUser({ email: email.toLowerCase() });
    const token = await tokenFor(user.authSubject!);
    await gql(`mutation { createOrganization(input: { slug: "BAD SLUG", name: "${email}" }) { __typename } }`, { token });
    await gql('{ __typename }', { token: `${token}tampered` });
    await gql('{ __typename }', { headers: { 'x-api-key': 'igk_supersecretvalue123' } });
    maskError(new Error(`Invalid \`prisma.identifier.create()\` invocation: { identifierValue: "emp-998877", email: "${email}", phone: "+15555550100" }`));
    const text = JSON.stringify(lines);
    expect(lines.length).toBeGreaterThan(3);
    for (const secret of [token, 'igk_supersecretvalue123', email, email.toLowerCase(), 'emp-998877', '+15555550100', '5555550100']) {
      expect(text).not.toContain(secret);
    }
  });

  it('scrub masks quoted values, emails, phone numbers and tokens', () => {
    expect(scrub('user a@b.co called +1 (555) 555-0100 with "secret" and eyJa.eyJb.sig')).toBe(
      'user [email] called [number] with "…" and [token]',
    );
  });
});
