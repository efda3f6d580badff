/**
 * Exact money arithmetic. Unit prices are fractions of a cent ($0.0015 an
 * image), so they are held as integers of 10^-9 of the currency's major unit
 * (BigInt "nanos"): a price times a number of units is then exact, and only a
 * line's total is rounded, once, to the currency's minor unit. Amounts leave
 * Tollgate as integers in minor units (cents), with a formatted decimal
 * string beside them.
 */

/** The most decimals a unit price may have: one nano of the major unit. */
export const PRICE_DECIMALS = 9;
const NANOS_PER_UNIT = 10n ** BigInt(PRICE_DECIMALS);

/** A non-negative decimal string of at most PRICE_DECIMALS decimals ("0.0015") in nanos (1_500_000n). */
export function parsePrice(decimal: string): bigint {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(decimal);
  if (match === null || (match[2] ?? '').length > PRICE_DECIMALS) throw new RangeError(`not a price: "${decimal}"`);
  return BigInt(match[1]!) * NANOS_PER_UNIT + BigInt((match[2] ?? '').padEnd(PRICE_DECIMALS, '0'));
}

/**
 * Writes `value` (an integer of 10^-decimals) as a decimal string, keeping
 * at least `minDecimals` decimals and dropping further trailing zeros:
 * formatScaled(1_500_000n, 9, 2) is "0.0015", formatScaled(200n, 2, 2) is "2.00".
 */
export function formatScaled(value: bigint, decimals: number, minDecimals = 0): string {
  const sign = value < 0n ? '-' : '';
  const digits = (value < 0n ? -value : value).toString().padStart(decimals + 1, '0');
  const whole = digits.slice(0, digits.length - decimals);
  let fraction = digits.slice(digits.length - decimals);
  while (fraction.length > minDecimals && fraction.endsWith('0')) fraction = fraction.slice(0, -1);
  return `${sign}${whole}${fraction === '' ? '' : `.${fraction}`}`;
}

/** A price in nanos as the API writes prices: "0.0015", "2", "0.01". */
export function formatPrice(nanos: bigint): string {
  return formatScaled(nanos, PRICE_DECIMALS);
}

let currencies: ReadonlySet<string> | null = null;

/** Whether `code` is an ISO 4217 currency code this runtime knows (upper case, e.g. "USD"). */
export function isCurrency(code: string): boolean {
  currencies ??= new Set(Intl.supportedValuesOf('currency'));
  return /^[A-Z]{3}$/.test(code) && currencies.has(code);
}

/** Decimals of the currency's minor unit: 2 for USD and EUR, 0 for JPY, 3 for BHD (the CLDR data Node.js carries). */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/**
 * An exact amount in nanos rounded to the currency's minor unit, half away
 * from zero (half a cent or more rounds up): the one rounding of a line.
 */
export function toMinor(nanos: bigint, digits: number): bigint {
  const divisor = 10n ** BigInt(PRICE_DECIMALS - digits);
  const magnitude = nanos < 0n ? -nanos : nanos;
  const rounded = (magnitude + divisor / 2n) / divisor;
  return nanos < 0n ? -rounded : rounded;
}

/** An amount in minor units as a decimal string with the currency's decimals: 230001 → "2300.01". */
export function formatMinor(amount: number, digits: number): string {
  return formatScaled(BigInt(amount), digits, digits);
}

/** An amount in minor units as a JSON number; amounts beyond 2^53 cannot be written exactly and are refused. */
export function minorToNumber(amount: bigint): number {
  if (amount > BigInt(Number.MAX_SAFE_INTEGER) || amount < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`amount ${amount} is beyond the exact range of a JSON number`);
  }
  return Number(amount);
}
