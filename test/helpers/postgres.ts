import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort, waitUntil, type ThrowawayServer } from './free-port.js';

const run = promisify(execFile);

/** PostgreSQL keeps its data across `halt` and `resume`. */
export type TestPostgres = ThrowawayServer;

/** Where the PostgreSQL 15 server binaries are, or null. */
export function postgresBinaries(): string | null {
  for (const dir of ['/usr/local/bin', '/usr/lib/postgresql/15/bin']) {
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'))) return dir;
  }
  return null;
}

/**
 * A throwaway PostgreSQL on 127.0.0.1 and a free port, in a temporary
 * directory. PostgreSQL refuses to run as root, so as root it runs as the
 * `postgres` user (runuser). Trust authentication on loopback only.
 * `durable: false` turns fsync and synchronous commits off, for tests that
 * never crash it (the API tests): a commit then costs no disk flush.
 */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<TestPostgres> {
  const durability = options.durable === false ? ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'] : ['fsync=on'];
  const bin = postgresBinaries();
  if (bin === null) throw new Error('PostgreSQL server binaries (initdb, postgres) not found');
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-pg-'));
  const data = join(dir, 'data');
  const asRoot = userInfo().uid === 0;
  const as = (command: string, args: string[]) => (asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] as const : [command, args] as const);
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const [initCmd, initArgs] = as(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'tollgate', '--no-sync', '-E', 'UTF8']);
  await run(initCmd, [...initArgs]);
  const port = await freePort();
  const url = `postgres://tollgate@127.0.0.1:${port}/postgres`;
  let server: ChildProcess;
  const launch = async () => {
    const [cmd, args] = as(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', ...durability.flatMap((setting) => ['-c', setting])]);
    const child: ChildProcess = spawn(cmd, [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    server = child;
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => { log += chunk.toString(); });
    await waitUntil('PostgreSQL', async () => {
      if (child.exitCode !== null) throw new Error(`exited: ${log}`);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.end();
    });
  };
  const halt = async () => {
    if (server.exitCode !== null) return;
    const exited = new Promise((r) => server.once('exit', r));
    // Through pg_ctl: a signal to runuser would not reach the server.
    const [stopCmd, stopArgs] = as(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'fast', '-w']);
    await run(stopCmd, [...stopArgs]).catch(() => server.kill('SIGKILL'));
    await exited;
  };
  try {
    await launch();
  } catch (error) {
    await run('pkill', ['-KILL', '-f', dir]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    halt,
    resume: launch,
    // Not the spawned process's: as root that is runuser's.
    pid: () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]),
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
