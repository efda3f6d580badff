import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ConfigError, type Config } from '../config.js';

/** Where the certificate (and its chain) and its private key are: PEM files. */
export interface CertificatePaths {
  cert: string;
  key: string;
}

/** A certificate and its private key as read from their files, known to belong together. */
export interface CertificatePair {
  cert: Buffer;
  key: Buffer;
  /** Of the server's own certificate (the first in the file), for the logs: serial number in hex, subject, end of validity. */
  serial: string;
  subject: string;
  validTo: string;
}

/** The files of TOLLGATE_TLS_CERT and TOLLGATE_TLS_KEY, or null when Tollgate speaks plain HTTP. */
export function certificatePaths(config: Config): CertificatePaths | null {
  return config.tlsCert === undefined || config.tlsKey === undefined ? null : { cert: config.tlsCert, key: config.tlsKey };
}

/**
 * Reads the pair Tollgate starts with. Anything wrong stops the start with
 * the file at fault and why: unreadable, not PEM, half written, or a key
 * that is not the certificate's.
 *
 * @example
 * const pair = readCertificatePair({ cert: '/etc/letsencrypt/live/x/fullchain.pem', key: '/etc/letsencrypt/live/x/privkey.pem' });
 */
export function readCertificatePair(paths: CertificatePaths): CertificatePair {
  try {
    return checkCertificatePair(paths, readCertificateFiles(paths));
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`);
  }
}

/** The two files' bytes, unchecked; throws naming the file that cannot be read. */
export function readCertificateFiles(paths: CertificatePaths): { cert: Buffer; key: Buffer } {
  return { cert: readSetting(paths.cert, 'TOLLGATE_TLS_CERT', 'certificate'), key: readSetting(paths.key, 'TOLLGATE_TLS_KEY', 'private key') };
}

/**
 * Checks that the bytes read are a whole certificate chain and the private
 * key of its first certificate, as TLS will take them; throws saying what is wrong.
 */
export function checkCertificatePair(paths: CertificatePaths, files: { cert: Buffer; key: Buffer }): CertificatePair {
  const chain = certificates(paths.cert, files.cert.toString('latin1'));
  const leaf = chain[0]!;
  let key: KeyObject;
  try {
    key = createPrivateKey(files.key);
  } catch (error) {
    throw new Error(`TOLLGATE_TLS_KEY: ${paths.key} holds no usable PEM private key (an encrypted key is not supported): ${(error as Error).message}`);
  }
  if (!leaf.checkPrivateKey(key)) {
    throw new Error(`TOLLGATE_TLS_KEY: ${paths.key} is not the private key of the certificate in ${paths.cert} (${oneLine(leaf.subject)}, serial ${leaf.serialNumber})`);
  }
  try {
    createSecureContext(secureContextOptions(files));
  } catch (error) {
    throw new Error(`TOLLGATE_TLS_CERT and TOLLGATE_TLS_KEY: ${paths.cert} and ${paths.key} cannot be used for TLS: ${(error as Error).message}`);
  }
  return { cert: files.cert, key: files.key, serial: leaf.serialNumber, subject: oneLine(leaf.subject), validTo: leaf.validTo };
}

/** The TLS options of the server's secure context: the same at start and at every reload, so that a reload changes only the pair. */
export function secureContextOptions(pair: { cert: Buffer; key: Buffer }): SecureContextOptions {
  return { cert: pair.cert, key: pair.key };
}

function readSetting(path: string, variable: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`${variable}: cannot read the ${what} file ${path}: ${(error as Error).message}`);
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/**
 * Every certificate of a chain file. A file cut short (being written, as a
 * renewal replaces it) has a BEGIN line without its END, or a block that
 * does not parse, and is refused rather than served without its chain.
 */
function certificates(path: string, pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  const begun = pem.split('-----BEGIN CERTIFICATE-----').length - 1;
  if (blocks.length === 0) throw new Error(`TOLLGATE_TLS_CERT: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  if (begun !== blocks.length) throw new Error(`TOLLGATE_TLS_CERT: ${path} is cut short (${begun} certificates begun, ${blocks.length} whole)`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new Error(`TOLLGATE_TLS_CERT: certificate ${i + 1} in ${path} does not parse: ${(error as Error).message}`);
    }
  });
}

function oneLine(distinguishedName: string): string {
  return distinguishedName.split('\n').join(', ');
}
