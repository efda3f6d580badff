import { type Command, InvalidArgumentError, Option } from 'commander';
import { AdminClient, type Page } from './api-client.js';
import { type Column, formatRecord, formatTable } from './table.js';

/** Where the admin commands look for the server when neither --url nor TOLLGATE_URL says. */
export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** The options every command that calls the admin API takes. */
export interface ClientOptions {
  url: string;
  token?: string;
  json?: boolean;
}

const CLIENT_OPTIONS = new Set(['--url', '--token', '--json']);
const SERVER_OPTIONS = 'Server options:';

/** What an admin command's action works with. */
export interface Context<O> {
  api: AdminClient;
  opts: ClientOptions & O;
  command: Command;
  /** Prints the API's JSON (pretty) with --json, else `text()`. */
  output(body: unknown, text: () => string): void;
  /** Prints one item: its JSON with --json, else aligned `HEADER  value` lines. */
  show<T>(item: T, columns: readonly Column<T>[]): void;
}

/** Writes a line to stdout. */
export function println(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Adds a subcommand that calls the admin API, with --url, --token and --json. */
export function clientCommand(parent: Command, nameAndArgs: string, description: string): Command {
  return parent.command(nameAndArgs)
    .description(description)
    .addOption(new Option('--url <url>', 'address of the Tollgate server').env('TOLLGATE_URL').default(DEFAULT_URL).argParser(parseUrl).helpGroup(SERVER_OPTIONS))
    .addOption(new Option('--token <token>', 'admin token').env('TOLLGATE_ADMIN_TOKEN').helpGroup(SERVER_OPTIONS))
    .addOption(new Option('--json', "print the API's JSON answer as is, not a table").helpGroup(SERVER_OPTIONS));
}

/**
 * An action for a client command: builds the client from the options (which
 * fails, saying how to give one, without a token) and calls `handler` with
 * the context and the command's positional arguments.
 */
export function run<O extends object = object>(handler: (ctx: Context<O>, args: string[]) => Promise<void>) {
  return async (...received: unknown[]): Promise<void> => {
    const command = received[received.length - 1] as Command;
    const opts = command.opts<ClientOptions & O>();
    const output = (body: unknown, text: () => string) => println(opts.json === true ? JSON.stringify(body, null, 2) : text());
    const ctx: Context<O> = {
      api: new AdminClient(opts.url, opts.token),
      opts,
      command,
      output,
      show: (item, columns) => output(item, () => formatRecord(columns, item)),
    };
    await handler(ctx, command.processedArgs as string[]);
  };
}

/**
 * Adds a command that sends `method` to the path of its one argument and
 * shows the item answered (`show <id>`, `revoke <id>`).
 */
export function itemCommand<T>(
  parent: Command, nameAndArgs: string, description: string,
  method: 'GET' | 'DELETE', path: (id: string) => string, columns: readonly Column<T>[],
): Command {
  return clientCommand(parent, nameAndArgs, description)
    .action(run(async (ctx, [id]) => ctx.show(await ctx.api.request<T>(method, path(id!)), columns)));
}

/**
 * Adds a `list` command with --limit and --after that shows one page of
 * `path(opts)` as a table, and how to get the next page.
 */
export function listCommand<T, O extends object = object>(
  parent: Command, description: string, columns: readonly Column<T>[], path: (opts: O) => string,
): Command {
  return clientCommand(parent, 'list', description)
    .option('--limit <n>', 'how many to show, 1 to 1000 (default 100)', parsePageSize)
    .option('--after <id>', 'start after this id (the "next" of the previous page)')
    .action(run<O & { limit?: number; after?: string }>(async (ctx) => {
      const page = await ctx.api.get<Page<T>>(path(ctx.opts), { limit: ctx.opts.limit, after: ctx.opts.after });
      ctx.output(page, () => formatTable(columns, page.items) + (page.next === null ? '' : `\n\nMore: add --after ${page.next}`));
    }));
}

/**
 * The body of an update; refuses one that would change nothing, naming the
 * options the command takes.
 */
export function changes<B extends object>(command: Command, body: B): B {
  if (Object.values(body).every((v) => v === undefined)) {
    const options = command.options.map((o) => o.long).filter((long) => long !== undefined && !CLIENT_OPTIONS.has(long));
    throw new Error(`nothing to change: give at least one of ${options.join(', ')}.`);
  }
  return body;
}

/**
 * Shows a created item and its secret with the warning that it is not shown
 * again; with --json the API's JSON, which holds the secret, is all.
 */
export function showWithSecret<T>(ctx: Context<object>, item: T, columns: readonly Column<T>[], label: string, secret: string): void {
  ctx.show(item, columns);
  if (ctx.opts.json === true) return;
  println('');
  println(`${label}: ${secret}`);
  println('It is shown this once and not shown again: store it now.');
}

function integer(min: number, max: number, expected: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`Expected ${expected}.`);
    return n;
  };
}

/** Parses a limit option: a whole number of units, -1 for unlimited. */
export const parseLimit = integer(-1, 1e15, 'a whole number, or -1 for unlimited');

/**
 * Parses an app's own limit: like parseLimit, or "none" to remove it (kept
 * as "none": commander turns a parser's null into "").
 */
export function parseLimitOrNone(value: string): number | 'none' {
  return value.trim() === 'none' ? 'none' : parseAppLimit(value);
}
const parseAppLimit = integer(-1, 1e15, 'a whole number, -1 for unlimited, or "none" to remove the limit');

/** Parses --limit of a list: 1 to 1000. */
export const parsePageSize = integer(1, 1000, 'a whole number from 1 to 1000');

/** Parses an instant (a date alone is midnight UTC), giving it to the API as an ISO 8601 date-time. */
export function parseInstant(value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidArgumentError('Expected an ISO 8601 date-time such as 2030-01-01T00:00:00Z.');
  return new Date(ms).toISOString();
}

function parseUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new InvalidArgumentError('Expected an http(s) URL such as http://127.0.0.1:8080.');
  }
  return value;
}
