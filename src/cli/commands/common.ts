import { type Command, InvalidArgumentError, Option } from 'commander';
import { DECIMAL_PATTERN } from '../../contract/patterns.js';
import type { AdminApi } from '../../client/admin.js';
import type { Page, PageOptions } from '../../client/admin-types.js';
import { toWire } from '../../client/wire.js';
import { adminApi, ApiAnswerError, cliError } from './api-client.js';
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
  /** The SDK's admin client. */
  api: AdminApi;
  /** The server's address, as given. */
  baseUrl: string;
  opts: ClientOptions & O;
  command: Command;
  /** Prints the API's JSON (pretty: the SDK's value as the API writes it) with --json, else `text()`. */
  output(body: unknown, text: () => string): void;
  /** Prints one item: its JSON with --json, else aligned `HEADER  value` lines. */
  show<T>(item: T, columns: readonly Column<T>[]): void;
}

/** A command line the CLI refuses before calling anything (exit code 2), like commander's own checks. */
export class UsageError extends Error {
  override name = 'UsageError';
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
 * The option (or argument) behind each field a command sends to the API,
 * e.g. `{ monthly_quota: '--monthly-quota' }`, so that the API's error
 * messages name what the user typed.
 */
export type FieldOptions = Readonly<Record<string, string>>;

/**
 * An API error with each field of `fields` named by its option: `body field
 * "monthly_quota" must be...` becomes `--monthly-quota must be...`, `body
 * field "prices.0.tiers.1.up_to"` becomes `--prices at [0].tiers[1].up_to`,
 * and `after "from_date"` becomes `after --from`.
 */
export function namingOptions(error: ApiAnswerError, fields: FieldOptions): ApiAnswerError {
  const message = error.apiMessage.replace(/(?:(?:body field|query parameter) )?"(\w+)((?:\.[^"]*)?)"/g, (whole, field: string, rest: string) => {
    const option = Object.hasOwn(fields, field) ? fields[field]! : undefined;
    if (option === undefined) return whole;
    return rest === '' ? option : `${option} at ${rest.slice(1).replace(/(^|\.)(\d+)/g, '[$2]')}`;
  });
  return message === error.apiMessage ? error : new ApiAnswerError(error.status, error.code, message);
}

/**
 * An action for a client command: builds the client from the options (which
 * fails, saying how to give one, without a token) and calls `handler` with
 * the context and the command's positional arguments. An API error about a
 * field of `fields` names its option.
 */
export function run<O extends object = object>(handler: (ctx: Context<O>, args: string[]) => Promise<void>, fields: FieldOptions = {}) {
  return async (...received: unknown[]): Promise<void> => {
    const command = received[received.length - 1] as Command;
    const opts = command.opts<ClientOptions & O>();
    const output = (body: unknown, text: () => string) => println(opts.json === true ? wireJson(body) : text());
    const ctx: Context<O> = {
      ...adminApi(opts.url, opts.token),
      opts,
      command,
      output,
      show: (item, columns) => output(item, () => formatRecord(columns, item)),
    };
    try {
      await handler(ctx, command.processedArgs as string[]);
    } catch (thrown) {
      const error = cliError(thrown);
      throw error instanceof ApiAnswerError ? namingOptions(error, fields) : error;
    }
  };
}

/** A value of the SDK as the API's JSON (pretty): the API's own names, by the SDK's one rule (src/client/wire.ts). */
export function wireJson(value: unknown): string {
  return JSON.stringify(toWire(value), null, 2);
}

/**
 * Adds a command that calls `call` with its one argument and shows the item
 * answered (`show <id>`, `revoke <id>`).
 */
export function itemCommand<T>(
  parent: Command, nameAndArgs: string, description: string, call: (api: AdminApi, id: string) => Promise<T>, columns: readonly Column<T>[],
): Command {
  return clientCommand(parent, nameAndArgs, description)
    .action(run(async (ctx, [id]) => ctx.show(await call(ctx.api, id!), columns)));
}

/**
 * Adds a `list` command with --limit and --after that shows one page of
 * `list(api, opts, page)` as a table, and how to get the next page.
 */
export function listCommand<T, O extends object = object>(
  parent: Command, description: string, columns: readonly Column<T>[], list: (api: AdminApi, opts: O, page: PageOptions) => Promise<Page<T>>,
): Command {
  return clientCommand(parent, 'list', description)
    .option('--limit <n>', 'how many to show, 1 to 1000 (default 100)', parsePageSize)
    .option('--after <id>', 'start after this id (the "next" of the previous page)')
    .action(run<O & { limit?: number; after?: string }>(async (ctx) => {
      const page = await list(ctx.api, ctx.opts, { limit: ctx.opts.limit, after: ctx.opts.after });
      ctx.output(page, () => formatTable(columns, page.items) + (page.next === null ? '' : `\n\nMore: add --after ${page.next}`));
    }, { limit: '--limit', after: '--after' }));
}

/**
 * The body of an update; refuses one that would change nothing, naming the
 * options the command takes.
 */
export function changes<B extends object>(command: Command, body: B): B {
  if (Object.values(body).every((v) => v === undefined)) {
    const options = command.options.map((o) => o.long).filter((long) => long !== undefined && !CLIENT_OPTIONS.has(long));
    throw new UsageError(`nothing to change: give at least one of ${options.join(', ')}.`);
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

/** A parser of whole numbers from `min` to `max`, whose error says `Expected ${expected}.` */
export function integer(min: number, max: number, expected: string): (value: string) => number {
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

const DECIMAL = new RegExp(DECIMAL_PATTERN);

/** Parses a price: a decimal as the API takes it, checked here so that the message is about the option. */
export function parseDecimal(value: string): string {
  if (!DECIMAL.test(value)) throw new InvalidArgumentError('Expected a decimal such as 0.01: up to 12 digits, and up to 9 after the point.');
  return value;
}

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
