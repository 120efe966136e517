// `vigil pki ...`: a CA, the ETSI listener's server certificate, SAE client certificates and the CRL, as files an
// operator (or a test) hands to Vigil and to SAEs. Private keys are written 0600 and never printed.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { KeyAlgorithm } from '@vigil/pki';

/**
 * The X.509 library and the SAE_ID rule, loaded once a subcommand has something to do: `--help` and a mistyped
 * option answer at once instead of after a second of imports.
 */
async function libraries() {
  const [pki, contract, compile] = await Promise.all([import('@vigil/pki'), import('@vigil/kme-contract'), import('typebox/compile')]);
  return { pki, isSaeId: compile.default(contract.SaeId) };
}
type Libraries = Awaited<ReturnType<typeof libraries>>;

export const summary = 'create a CA, server and SAE certificates, and revoke them (CRL)';

const usage = `usage: vigil pki <subcommand> [options]

subcommands:
  init     a CA, its empty CRL and a server certificate in a directory
  server   a new server certificate for the ETSI listener
  sae      an SAE client certificate for an SAE_ID
  revoke   add a certificate to the CA's CRL
  crl      issue the CRL again (before its nextUpdate)

vigil pki <subcommand> --help tells more.
`;

/** A mistake in the command line: its message and the usage of the subcommand. */
class UsageError extends Error {}

function positiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,5}$/.test(value)) throw new UsageError(`--${name} must be a whole number of days from 1`);
  return Number(value);
}

function required(name: string, value: string | undefined): string {
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

function keyAlgorithm(lib: Libraries, value: string | undefined): KeyAlgorithm | undefined {
  if (value === undefined) return undefined;
  const found = lib.pki.keyAlgorithms.find((k) => k === value);
  if (!found) throw new UsageError(`--key must be one of ${lib.pki.keyAlgorithms.join(', ')}`);
  return found;
}

function settingsFor(lib: Libraries, dir: string): string {
  const p = lib.pki.pkiPaths(dir);
  return [
    'Run the edge with:',
    `  VIGIL_TLS_CA_FILE=${p.caCertificate}`,
    `  VIGIL_TLS_CRL_FILE=${p.crl}`,
    `  VIGIL_TLS_CERT_FILE=${p.serverCertificate}`,
    `  VIGIL_TLS_KEY_FILE=${p.serverKey}`,
  ].join('\n');
}

interface Subcommand {
  readonly help: string;
  readonly options: NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  run(values: Record<string, string | boolean | string[] | boolean[] | undefined>, positionals: string[], lib: Libraries): Promise<string>;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function listOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v) => typeof v === 'string') : [];
}

const names = {
  dns: { type: 'string', multiple: true },
  ip: { type: 'string', multiple: true },
} as const;

const subcommands: Readonly<Record<string, Subcommand>> = {
  init: {
    help: `usage: vigil pki init --dir D [--dns NAME]... [--ip ADDRESS]... [--key ec-p256|rsa-3072] [--crl-days N]

Creates in D: ca.crt and ca.key (the CA that signs SAE certificates), ca.crl (its empty CRL) and server.crt and
server.key (the ETSI listener's certificate, for localhost, 127.0.0.1 and ::1 unless --dns/--ip say otherwise).
Refuses to replace a CA that exists.
`,
    options: { dir: { type: 'string' }, ...names, key: { type: 'string' }, 'crl-days': { type: 'string' } },
    async run(values, _positionals, lib) {
      const dir = required('dir', stringOf(values['dir']));
      const dns = listOf(values['dns']);
      const ip = listOf(values['ip']);
      const given = dns.length + ip.length > 0;
      const algorithm = keyAlgorithm(lib, stringOf(values['key']));
      const crlDays = positiveInteger('crl-days', stringOf(values['crl-days']));
      const p = await lib.pki.initPki(dir, {
        dnsNames: given ? dns : ['localhost'],
        ipAddresses: given ? ip : ['127.0.0.1', '::1'],
        ...(algorithm ? { keyAlgorithm: algorithm } : {}),
        ...(crlDays ? { crlDays } : {}),
      });
      return `CA      ${p.caCertificate} (key ${p.caKey})\nCRL     ${p.crl}\nserver  ${p.serverCertificate} (key ${p.serverKey})\n\n${settingsFor(lib, dir)}\n`;
    },
  },
  server: {
    help: `usage: vigil pki server --dir D [--dns NAME]... [--ip ADDRESS]... [--days N]

Issues server.crt and server.key in D again, signed by D's CA, for the names given (at least one). A running
edge picks up the new certificate within seconds.
`,
    options: { dir: { type: 'string' }, ...names, days: { type: 'string' } },
    async run(values, _positionals, lib) {
      const dir = required('dir', stringOf(values['dir']));
      const dns = listOf(values['dns']);
      const ip = listOf(values['ip']);
      if (dns.length + ip.length === 0) throw new UsageError('give at least one --dns or --ip');
      const days = positiveInteger('days', stringOf(values['days']));
      const p = await lib.pki.writeServerCertificate(dir, { dnsNames: dns, ipAddresses: ip, ...(days ? { days } : {}) });
      return `server  ${p.serverCertificate} (key ${p.serverKey}) for ${[...dns, ...ip].join(', ')}\n`;
    },
  },
  sae: {
    help: `usage: vigil pki sae <SAE_ID> --dir D [--uri-san URI] [--dns-san NAME] [--days N] [--force]

Issues an SAE client certificate signed by D's CA: subject CN = SAE_ID (where the edge reads it by default;
VIGIL_SAE_ID_FROM=uri-san or dns-san reads the SAN instead), written to D/<SAE_ID>.crt and D/<SAE_ID>.key.
Prints the certificate's SHA-256 fingerprint (for a certificate pin). --days: validity (default 365).
`,
    options: { dir: { type: 'string' }, 'uri-san': { type: 'string' }, 'dns-san': { type: 'string' }, days: { type: 'string' }, force: { type: 'boolean' } },
    async run(values, positionals, lib) {
      const [saeId, ...extra] = positionals;
      if (!saeId || extra.length > 0) throw new UsageError('give exactly one SAE_ID');
      if (!lib.isSaeId.Check(saeId)) throw new UsageError(`${JSON.stringify(saeId)} is not an SAE_ID (1 to 128 of A-Z a-z 0-9 . _ ~ : @ + -)`);
      const dir = required('dir', stringOf(values['dir']));
      const days = positiveInteger('days', stringOf(values['days']));
      const uriSan = stringOf(values['uri-san']);
      const dnsSan = stringOf(values['dns-san']);
      const issued = await lib.pki.writeSaeCertificate(dir, {
        saeId,
        ...(uriSan ? { uriSan } : {}),
        ...(dnsSan ? { dnsSan } : {}),
        ...(days ? { days } : {}),
        overwrite: values['force'] === true,
      });
      return `certificate  ${issued.certificate}\nkey          ${issued.key}\nserial       ${issued.serialNumber}\nsha256       ${issued.sha256}\n`;
    },
  },
  revoke: {
    help: `usage: vigil pki revoke <certificate.pem> --dir D [--crl-days N]

Adds the certificate (issued by D's CA) to D/ca.crl. A running edge refuses it on new connections within seconds.
`,
    options: { dir: { type: 'string' }, 'crl-days': { type: 'string' } },
    async run(values, positionals, lib) {
      const [file, ...extra] = positionals;
      if (!file || extra.length > 0) throw new UsageError('give exactly one certificate file');
      const dir = required('dir', stringOf(values['dir']));
      const crlDays = positiveInteger('crl-days', stringOf(values['crl-days']));
      let pem: string;
      try {
        pem = readFileSync(file, 'utf8');
      } catch {
        throw new lib.pki.PkiDirectoryError(`cannot read ${file}`);
      }
      const r = await lib.pki.revokeCertificate(dir, pem, crlDays ? { crlDays } : {});
      return r.alreadyRevoked ? `${r.subject} (serial ${r.serialNumber}) was revoked already\n` : `revoked ${r.subject} (serial ${r.serialNumber}); CRL ${lib.pki.pkiPaths(dir).crl}\n`;
    },
  },
  crl: {
    help: `usage: vigil pki crl --dir D [--days N]

Issues D/ca.crl again with the same entries and a new nextUpdate (default in 365 days). Once a CRL is past its
nextUpdate, TLS refuses every client certificate of that CA, so renew it before then.
`,
    options: { dir: { type: 'string' }, days: { type: 'string' } },
    async run(values, _positionals, lib) {
      const dir = required('dir', stringOf(values['dir']));
      const days = positiveInteger('days', stringOf(values['days']));
      await lib.pki.renewCrl(dir, days ? { crlDays: days } : {});
      return `CRL     ${lib.pki.pkiPaths(dir).crl}\n`;
    },
  },
};

function isParseArgsError(err: unknown): err is Error {
  return err instanceof TypeError && 'code' in err && typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS');
}

export async function run(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(usage);
    return name ? 0 : 2;
  }
  const subcommand = subcommands[name];
  if (!subcommand) {
    process.stderr.write(`vigil pki: no subcommand ${JSON.stringify(name)}\n\n${usage}`);
    return 2;
  }
  let lib: Libraries | undefined;
  try {
    const { values, positionals } = parseArgs({ args: rest, options: { ...subcommand.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
    if (values['help'] === true) {
      process.stdout.write(subcommand.help);
      return 0;
    }
    lib = await libraries();
    process.stdout.write(await subcommand.run(values, positionals, lib));
    return 0;
  } catch (err) {
    if (err instanceof UsageError || isParseArgsError(err)) {
      process.stderr.write(`vigil pki ${name}: ${err.message}\n\n${subcommand.help}`);
      return 2;
    }
    // The PKI's own refusals (a CA that exists, a certificate of another CA) and file system errors: one line.
    if ((lib && err instanceof lib.pki.PkiDirectoryError) || (err instanceof Error && 'code' in err && typeof err.code === 'string')) {
      process.stderr.write(`vigil pki ${name}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
