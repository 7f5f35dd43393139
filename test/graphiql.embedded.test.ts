import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { app, globalId, tokenFor } from './helpers/app.ts';
import { aTenantWithMember } from './helpers/factories.ts';

// GraphiQL as a person uses it: Debian's Chromium, driven by playwright-core, opens the
// page the server serves, pastes a development token into the Headers tab, runs a
// query and reads the result panel. A screenshot is kept in test-results/.
// (The page does not depend on the database, so this runs in the embedded project.)

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.REQUIRE_BROWSER === '1') throw new Error(`REQUIRE_BROWSER=1 but ${CHROMIUM} is missing (apt-get install -y chromium).`);
  console.warn(`\n  ${CHROMIUM} is missing: the GraphiQL browser test was NOT run (apt-get install -y chromium).\n`);
}

let server: Server;
let url: string;
let browser: Browser;

beforeAll(async () => {
  if (!haveChromium) return;
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  if (server) await new Promise((r) => server.close(r));
});

describe.runIf(haveChromium)('GraphiQL in a browser', () => {
  it('runs a query with a pasted development token and shows the data in the result panel', async () => {
    const { user, organization } = await aTenantWithMember();
    const token = await tokenFor(user.authSubject!);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(url);
    await page.waitForSelector('.graphiql-query-editor .monaco-editor');

    await page.click('.graphiql-query-editor .monaco-editor');
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(
      `query Organization { node(id: "${globalId('Organization', organization.id)}") { ... on Organization { slug name } } }`,
    );
    await page.getByRole('button', { name: 'Headers' }).click();
    await page.click('.graphiql-editor-tool .graphiql-editor:visible .monaco-editor');
    await page.keyboard.insertText(`{"Authorization": "Bearer ${token}", "X-Organization-ID": "${organization.id}"}`);
    await page.getByRole('button', { name: /Execute query/ }).click();

    const result = page.locator('.graphiql-response');
    await expect.poll(() => result.innerText(), { timeout: 15_000 }).toContain(organization.slug);
    const shown = JSON.parse((await result.innerText()).replace(/\u00a0/g, ' '));
    expect(shown).toEqual({ data: { node: { slug: organization.slug, name: organization.name } } });

    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/graphiql.png' });
    await page.close();
  }, 60_000);
});
