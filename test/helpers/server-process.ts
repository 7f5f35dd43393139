import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { build, isFresh } from '../../scripts/build.mjs';
import { TEST_JWT_SECRET } from './app.ts';

// Programs as real processes, started as their npm scripts start them (from the build
// in dist/, which the test run's global setup brings up to date with the sources): the
// server, listening on a free loopback port, and the webhook worker.

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** What the process wrote to stdout alone. */
  stdout(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const SCRIPTS = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;

/** The arguments after `node` of an npm script such as `node --flag scripts/start.mjs worker`. */
export function nodeArgsOf(script: string): string[] {
  const words = SCRIPTS[script]?.split(/\s+/) ?? [];
  if (words[0] !== 'node') throw new Error(`npm run ${script} does not run node: ${SCRIPTS[script]}`);
  return words.slice(1);
}

const BASE_ENV = {
  NODE_ENV: 'development',
  HOST: '127.0.0.1',
  PORT: '0',
  DATABASE_URL: '',
  JWT_SECRET: TEST_JWT_SECRET,
  // Startup lines (the URL among them) are info lines of the JSON log.
  LOG_LEVEL: 'info',
  // The demo organization is for people; test/demo.embedded.test.ts turns it on.
  DEMO_DATA: 'false',
};

/** Starts `npm run <script>` and resolves once its output matches `ready` (its first group is the url). */
async function startProgram(script: string, env: Record<string, string>, ready: RegExp): Promise<ServerProcess> {
  // The test run's global setup built dist/; a caller outside vitest (a benchmark) may not have.
  if (!isFresh()) await build();
  const child = spawn(process.execPath, nodeArgsOf(script), { env: { ...process.env, ...BASE_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stdout = '';
  child.stdout!.on('data', (d) => {
    out += d;
    stdout += d;
  });
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // A process that never got ready is not left running behind the failed test.
      child.kill('SIGKILL');
      reject(new Error(`npm run ${script}: not ready within 60 s:\n${out}`));
    }, 60_000);
    child.stdout!.on('data', () => {
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] ?? '');
      }
    });
    void exited.then((code) => reject(new Error(`exited with ${code}:\n${out}`)));
  });
  return {
    child,
    url,
    output: () => out,
    stdout: () => stdout,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/** `npm start`, resolved once the server says where it listens. */
export function startServer(env: Record<string, string>): Promise<ServerProcess> {
  return startProgram('start', env, /(http:\/\/\S+\/graphql)/);
}

/** `npm run worker` (its url is empty), resolved once it delivers. */
export function startWorker(env: Record<string, string>): Promise<ServerProcess> {
  return startProgram('worker', env, /()Delivering webhooks from/);
}
