#!/usr/bin/env node
// The demo: a real Synapse + the demo chat client, both on 127.0.0.1.
//
//   node scripts/demo.mjs [--dir DIR | --temp] [--fresh] [--port 8080] [--hs-port 8008] [--no-build]
//
// Builds www/ (scripts/build-www.mjs), starts Synapse with its data in ~/.cache/mcg-demo (or DIR, or a temp dir
// with --temp; --fresh wipes the dir first), registers alice and bob (passwords are generated once and kept in
// DIR/demo-users.json), serves www/ + pkg/ and prints the URLs and logins. Ctrl-C / SIGTERM stops everything it
// started. Run it after the toolchain + build steps (npm run build makes pkg/; without pkg/ the pages say the
// guardian is unavailable and the chat still works).

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { portInUse, startHomeserver } from '../tests/support/homeserver.mjs';
import { buildWww } from './build-www.mjs';
import { serveOnFreePort } from './serve.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
};
if (flag('help') || flag('h')) {
  console.log('usage: node scripts/demo.mjs [--dir DIR | --temp] [--fresh] [--port 8080] [--hs-port 8008] [--no-build]');
  process.exit(0);
}

const started = [];
let shuttingDown = false;
async function shutdown(code = 0) {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log('\nstopping the demo …');
  for (const s of started.reverse()) {
    try {
      await s();
    } catch (e) {
      console.error('stop failed:', e.message);
    }
  }
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => shutdown(0));

async function firstFreePort(from, tries = 20) {
  for (let p = from; p < from + tries; p++) if (!(await portInUse(p))) return p;
  throw new Error(`no free port in ${from}..${from + tries - 1}`);
}

function loadUsers(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

async function main() {
  if (!flag('no-build')) await buildWww();

  const dir = flag('temp') ? undefined : resolve(opt('dir', join(homedir(), '.cache', 'mcg-demo')));
  if (dir && flag('fresh')) rmSync(dir, { recursive: true, force: true });
  if (dir) mkdirSync(dir, { recursive: true });

  const hsPort = await firstFreePort(Number(opt('hs-port', 8008)));
  const hs = await startHomeserver({ dir, port: hsPort });
  started.push(() => hs.stop());

  // stable passwords per data dir, so existing accounts keep working across restarts
  const usersFile = join(hs.dir, 'demo-users.json');
  let users = loadUsers(usersFile);
  if (!users) {
    users = Object.fromEntries(['alice', 'bob'].map((n) => [n, `${n}-${randomBytes(6).toString('hex')}`]));
    writeFileSync(usersFile, JSON.stringify(users, null, 2) + '\n', { mode: 0o600 });
  }
  for (const [name, password] of Object.entries(users)) await hs.registerUser(name, password, { existOk: true });

  const web = await serveOnFreePort({ port: Number(opt('port', 8080)), root: ROOT, homeserver: hs.baseUrl });
  started.push(() => web.close());

  const pkgBuilt = existsSync(join(ROOT, 'pkg', 'index.js'));
  const line = '─'.repeat(72);
  console.log(`
${line}
 matrix-crypto-guardian demo

   chat (guardian, npm-style)   ${web.url}/
   chat (guardian, drop-in)     ${web.url}/dropin.html
   chat (no guardian)           ${web.url}/?guardian=off
   under a strict CSP           ${web.url}/csp.html   ${web.url}/csp-dropin.html

   homeserver                   ${hs.baseUrl}   (Synapse, server name "localhost")
   data + log                   ${hs.dir}

   log in as   alice   password ${users.alice}
               bob     password ${users.bob}
   (use two browser profiles / a private window for the second user)
${pkgBuilt ? '' : '\n   NOTE: pkg/ is not built (npm run build): the pages will say "guardian unavailable".\n'}
 Ctrl-C stops everything.
${line}`);
}

main().catch(async (e) => {
  console.error(e.stack || e);
  await shutdown(1);
});
