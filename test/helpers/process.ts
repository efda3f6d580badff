import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SERVER_START_TIMEOUT_MS } from './free-port.js';

/** The built CLI, as users run it. */
export const CLI = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process printed to stdout so far. */
  output(): string;
  /** Everything it printed to stderr so far (for failure messages). */
  errors(): string;
  /** Resolves with the exit code (or signal) once the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Servers still running when a test file's tests are done (a test that
 * failed before stopping its server): killed then, or they would keep the
 * file's process, and the whole run, from ever ending.
 */
const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts `tollgate serve` in its own process on a free port and waits for it
 * to say where it listens.
 */
export async function spawnServer(dataDir: string, options: { env?: Record<string, string>; args?: string[]; wrap?: string[] } = {}): Promise<ServerProcess> {
  // `wrap`: a command that runs the server in turn (`unshare ...`, a shell that does not reap it); `child` is then that command.
  const [file, ...args] = [...(options.wrap ?? []), process.execPath, CLI, 'serve', ...(options.args ?? [])];
  const child = spawn(file!, args, {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', TOLLGATE_DATA_DIR: dataDir, TOLLGATE_LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  // The banner ends with the admin token line: wait for all of it, not just the first line.
  const banner = () => (/^Admin token/m.test(stdout) ? /Tollgate listening on (https?:\/\/\S+)/.exec(stdout)?.[1] : undefined);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner within ${SERVER_START_TIMEOUT_MS} ms`)), SERVER_START_TIMEOUT_MS);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        child.stdout!.off('data', look);
        child.off('exit', exit);
        settle();
      };
      const look = () => {
        const found = banner();
        if (found !== undefined) done(() => resolve(found));
      };
      const exit = () => done(() => reject(new Error('exited')));
      child.stdout!.on('data', look);
      child.once('exit', exit);
    });
    return { url, child, output: () => stdout, errors: () => stderr, exited };
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`server did not start (${(error as Error).message}): ${stdout}\n${stderr}`);
  }
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end and returns its exit code and everything it printed (a program that cannot start rejects). */
export function runToEnd(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
