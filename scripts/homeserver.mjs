#!/usr/bin/env node
// Run the test homeserver (a real Synapse) by hand.
//
//   node scripts/homeserver.mjs start [--dir D] [--port P] [--user alice:pw] [--user bob:pw [--admin]]
//
// Prints the URL and keeps running until Ctrl-C / SIGTERM. Without --dir a temp dir is used (and removed on exit).
// Users that already exist in a reused --dir are left alone.

import { startHomeserver } from '../tests/support/homeserver.mjs';

function usage(code = 1) {
  console.error('usage: node scripts/homeserver.mjs start [--dir DIR] [--port PORT] [--user NAME:PASSWORD]... [--admin]');
  process.exit(code);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === '--help' || cmd === '-h') usage(0);
if (cmd !== 'start') usage();

let dir;
let port;
let admin = false;
const users = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--dir') dir = args[++i];
  else if (a === '--port') port = Number(args[++i]);
  else if (a === '--user') {
    const v = args[++i] || '';
    const idx = v.indexOf(':');
    if (idx <= 0) usage();
    users.push([v.slice(0, idx), v.slice(idx + 1)]);
  } else if (a === '--admin') admin = true;
  else usage();
}

const hs = await startHomeserver({ dir, port });
for (const [name, password] of users) {
  try {
    const u = await hs.registerUser(name, password, { admin });
    console.log(`registered ${u.userId}`);
  } catch (e) {
    if (e.body && e.body.errcode === 'M_USER_IN_USE') console.log(`@${name}:localhost already exists (kept)`);
    else throw e;
  }
}
console.log(`Synapse ${hs.baseUrl}  (server_name localhost, dir ${hs.dir}, log ${hs.logPath}, pid ${hs.pid})`);
console.log('Ctrl-C to stop.');

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await hs.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.on('SIGHUP', stop);
