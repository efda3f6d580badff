import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time (user + system, all threads) a process has used so far, in
 * milliseconds, from /proc (Linux); null where that cannot be read.
 */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** CPU milliseconds (user + system) of each process and every descendant, living or reaped; null when /proc cannot be read. */
export function treeCpuMs(roots: readonly number[]): number | null {
  if (roots.length === 0) return null;
  try {
    const children = new Map<number, number[]>();
    const own = new Map<number, number>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // exited meanwhile
      }
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(entry);
      const ppid = Number(fields[1]);
      // utime, stime, and cutime, cstime (children already reaped); USER_HZ is 100 on Linux.
      own.set(pid, ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / 100);
      const list = children.get(ppid) ?? [];
      list.push(pid);
      children.set(ppid, list);
    }
    let total = 0;
    const stack = [...roots];
    while (stack.length > 0) {
      const pid = stack.pop()!;
      total += own.get(pid) ?? 0;
      stack.push(...(children.get(pid) ?? []));
    }
    return total;
  } catch {
    return null;
  }
}

/** What a server script sends its parent over IPC. */
export type ServerMessage =
  | { type: 'ready'; url: string; [extra: string]: unknown }
  | { type: 'stats'; [extra: string]: unknown }
  | { type: 'error'; message: string };

export interface StopResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last `stats` message the server sent before exiting, if any. */
  stats: Record<string, unknown> | null;
  /** True when it did not exit after SIGTERM and had to be killed. */
  killed: boolean;
}

export interface ChildServer {
  label: string;
  url: string;
  ready: Record<string, unknown>;
  pid: number;
  /** SIGTERM, then wait for the exit (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<StopResult>;
}

/**
 * Runs a compiled server script in its own Node process
 * (`process.execPath script`), and resolves once it reports where it
 * listens. Its stdout/stderr go to ours.
 */
export function startServer(label: string, script: string, env: NodeJS.ProcessEnv, readyTimeoutMs = 60_000): Promise<ChildServer> {
  // e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the servers.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, script], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  let stats: Record<string, unknown> | null = null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  child.on('message', (m: ServerMessage) => {
    if (m.type === 'stats') stats = m;
  });

  return new Promise<ChildServer>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${label}: not ready after ${readyTimeoutMs} ms`));
    }, readyTimeoutMs);
    const onMessage = (m: ServerMessage) => {
      if (m.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`${label}: ${m.message}`));
      } else if (m.type === 'ready') {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve({
          label,
          url: m.url,
          ready: m,
          pid: child.pid!,
          async stop(timeoutMs = 120_000) {
            let killed = false;
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            const guard = setTimeout(() => {
              killed = true;
              child.kill('SIGKILL');
            }, timeoutMs);
            const { code, signal } = await exited;
            clearTimeout(guard);
            return { code, signal, stats, killed };
          },
        });
      }
    };
    child.on('message', onMessage);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${label}: exited before it was ready (code ${code}, signal ${signal})`));
    });
  });
}
