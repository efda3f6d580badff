import { execFileSync } from 'node:child_process';

/**
 * What a test does when a program it runs (curl, openssl, go, ruby…) is not
 * installed: under CI the test fails (a missing tool must never pass as
 * skipped; `.ci/run` installs them all), elsewhere it is skipped with the reason.
 */
export function toolMissing(t: { skip(message: string): void }, reason: string): void {
  if (process.env.CI === 'true') throw new Error(`${reason} (required when CI=true; .ci/run installs it)`);
  t.skip(reason);
}

/** Whether `command args` runs and exits 0 (false when the program is not installed). */
export function runs(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}
