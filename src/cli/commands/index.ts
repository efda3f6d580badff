import type { Command } from 'commander';

/** Registers the admin API's commands (plans, groups, apps, keys, usage). */
export function registerAdminCommands(program: Command): void {
  void program;
}
