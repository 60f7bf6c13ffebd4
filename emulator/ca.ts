// TLS material: msal-node refuses non-https authorities and the Graph client only sends the bearer
// token over https, so the emulator needs a CA that client processes trust via NODE_EXTRA_CA_CERTS.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../lib/project-root';
import { randomBytes } from 'node:crypto';
import forge from 'node-forge';

export const DEFAULT_DATA_DIR = path.join(PROJECT_ROOT, '.data', 'azure-emulator');

export interface CaMaterial {
  caPemPath: string;
  caCertPem: string;
  caKeyPem: string;
}

export interface ServerCert {
  certPem: string;
  keyPem: string;
}

function serialNumber(): string {
  // A positive serial: clear the top bit so DER does not read it as negative.
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  return bytes.toString('hex');
}

function buildCa(): { certPem: string; keyPem: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(cert.validity.notBefore.getTime());
  cert.validity.notAfter.setFullYear(cert.validity.notAfter.getFullYear() + 10);
  const attrs = [
    { name: 'commonName', value: 'Azure Emulator Test CA' },
    { name: 'organizationName', value: 'azure-compliance-connector' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Creates the CA on first use and reuses it afterwards, so trust set up once keeps working.
 * Safe against a concurrent first start (ensure-ca and the emulator): the process that creates
 * ca-key.pem exclusively writes the pair; the others wait for ca.pem, which appears atomically.
 */
export function ensureCa(dir: string = DEFAULT_DATA_DIR): CaMaterial {
  const caPemPath = path.join(dir, 'ca.pem');
  const caKeyPath = path.join(dir, 'ca-key.pem');
  const read = (): CaMaterial => ({
    caPemPath,
    caCertPem: fs.readFileSync(caPemPath, 'utf8'),
    caKeyPem: fs.readFileSync(caKeyPath, 'utf8'),
  });
  for (let attempt = 0; attempt < 2; attempt++) {
    if (fs.existsSync(caPemPath) && fs.existsSync(caKeyPath)) return read();
    fs.mkdirSync(dir, { recursive: true });
    const { certPem, keyPem } = buildCa();
    try {
      fs.writeFileSync(caKeyPath, keyPem, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      for (let waited = 0; waited < 5000 && !fs.existsSync(caPemPath); waited += 50) sleepSync(50);
      if (fs.existsSync(caPemPath)) return read();
      fs.rmSync(caKeyPath, { force: true }); // left behind by a run that died mid-way
      continue;
    }
    const tmp = `${caPemPath}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, certPem);
    fs.renameSync(tmp, caPemPath);
    return { caPemPath, caCertPem: certPem, caKeyPem: keyPem };
  }
  throw new Error(`could not create the emulator CA in ${dir}`);
}

/** A fresh leaf certificate per start; only the CA has to be stable. */
export function issueServerCert(ca: Pick<CaMaterial, 'caCertPem' | 'caKeyPem'>, hosts: string[] = ['localhost', '127.0.0.1']): ServerCert {
  const caCert = forge.pki.certificateFromPem(ca.caCertPem);
  const caKey = forge.pki.privateKeyFromPem(ca.caKeyPem);
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(cert.validity.notBefore.getTime() + 397 * 24 * 3600 * 1000);
  cert.setSubject([{ name: 'commonName', value: hosts[0] ?? 'localhost' }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = hosts.map((h) => (/^[\d.]+$/.test(h) || h.includes(':') ? { type: 7, ip: h } : { type: 2, value: h }));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}
