// Run before any process that must trust the emulator, so NODE_EXTRA_CA_CERTS can point at the CA.
import { ensureCa } from './ca';

process.stdout.write(`${ensureCa().caPemPath}\n`);
