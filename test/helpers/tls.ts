import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { Agent } from 'undici';

/** A server certificate the test CA issued, and its key, as files. */
export interface TestCertificate {
  certPath: string;
  keyPath: string;
  /** As Node reports it (hex), in X509Certificate and in a TLS peer's certificate alike. */
  serial: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A throwaway certificate authority in `dir`, made with the openssl CLI as an
 * operator would, and the server certificates it issues: for localhost and
 * 127.0.0.1, each with a serial number of its own.
 */
export class TestCa {
  /** The CA certificate, PEM: what a client trusts. */
  readonly pem: Buffer;
  readonly certPath: string;

  private constructor(private readonly dir: string) {
    this.certPath = join(dir, 'ca.pem');
    this.pem = readFileSync(this.certPath);
  }

  static create(dir: string): TestCa {
    writeFileSync(join(dir, 'openssl.cnf'), [
      '[req]', 'distinguished_name = dn', 'prompt = no',
      '[dn]', 'CN = Tollgate test CA',
      '[ca_ext]', 'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash',
      '[server_ext]', 'basicConstraints = CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = serverAuth',
      'subjectAltName = DNS:localhost,IP:127.0.0.1', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'));
    openssl(dir, ['req', '-x509', '-config', 'openssl.cnf', '-extensions', 'ca_ext', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2']);
    return new TestCa(dir);
  }

  /** A server certificate named `name`, with a new key, or with the key of `keyOf` (a renewal that keeps its key). */
  issue(name: string, options: { keyOf?: TestCertificate } = {}): TestCertificate {
    const keyPath = options.keyOf?.keyPath ?? join(this.dir, `${name}-key.pem`);
    if (options.keyOf === undefined) openssl(this.dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]);
    const serial = randomBytes(8);
    serial[0] = (serial[0]! & 0x7f) | 0x10; // positive, and no leading zero for the hex forms to differ on
    openssl(this.dir, ['req', '-new', '-key', keyPath, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
    openssl(this.dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-set_serial', `0x${serial.toString('hex')}`,
      '-days', '2', '-extfile', 'openssl.cnf', '-extensions', 'server_ext', '-out', `${name}.pem`]);
    const certPath = join(this.dir, `${name}.pem`);
    return { certPath, keyPath, serial: new X509Certificate(readFileSync(certPath)).serialNumber };
  }
}

/** Writes `content` over `target` the way renewals do: a new file beside it, renamed over it (atomic). */
export function replaceFile(target: string, content: Buffer | string): void {
  const next = `${target}.next`;
  writeFileSync(next, content);
  renameSync(next, target);
}

/** Opens a new TLS connection that trusts only `ca` and returns the serial number of the certificate the server offered. */
export function servedSerial(url: string, ca: Buffer): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}

/** An undici dispatcher whose connections trust only the test CA. */
export function trustingAgent(ca: Buffer): Agent {
  return new Agent({ connect: { ca } });
}
