import { spawn, type ChildProcess } from 'node:child_process';
import { TEST_JWT_SECRET } from './app.ts';

// The server as a real process, started as `npm start` starts it (from its bundle),
// listening on a free loopback port.

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** What the server wrote to stdout alone. */
  stdout(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
    env: {
      ...process.env,
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: '',
      JWT_SECRET: TEST_JWT_SECRET,
      // Startup lines (the URL among them) are info lines of the JSON log.
      LOG_LEVEL: 'info',
      // The demo organization is for people; test/demo.embedded.test.ts turns it on.
      DEMO_DATA: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stdout = '';
  child.stdout!.on('data', (d) => {
    out += d;
    stdout += d;
  });
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 60 s:\n${out}`)), 60_000);
    child.stdout!.on('data', () => {
      const m = /(http:\/\/\S+\/graphql)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
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
