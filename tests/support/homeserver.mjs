// A real Synapse for tests and the demo: config, keys, child process, users, access-log counting.
//
//   const hs = await startHomeserver({ dir, port });
//   await hs.registerUser('alice', 'pw');
//   hs.countRequests({ method: 'POST', pathIncludes: '/keys/upload', status: 400 });
//   await hs.stop();
//
// Node 20, ESM, no dependencies beyond node itself.

import { spawn } from 'node:child_process';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const DEFAULT_SYNAPSE_PYTHON = join(homedir(), '.cache', 'mcg-synapse-venv', 'bin', 'python');

/** The python interpreter that has Synapse installed (env MCG_SYNAPSE_PYTHON wins). */
export function synapsePython() {
  return process.env.MCG_SYNAPSE_PYTHON || DEFAULT_SYNAPSE_PYTHON;
}

/** A free TCP port on 127.0.0.1 (the OS picks it; tiny race window until the caller binds it). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/** Is something already listening on 127.0.0.1:port? */
export function portInUse(port) {
  return new Promise((res) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => res(true));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(false)));
  });
}

const RELAXED = { per_second: 1000, burst_count: 10000 };

/** Every rate limiter Synapse 1.16x knows about, relaxed so tests never hit 429. */
function rateLimits() {
  return {
    rc_message: RELAXED,
    rc_registration: RELAXED,
    rc_registration_token_validity: RELAXED,
    rc_login: { address: RELAXED, account: RELAXED, failed_attempts: RELAXED },
    rc_admin_redaction: RELAXED,
    rc_joins: { local: RELAXED, remote: RELAXED },
    rc_joins_per_room: RELAXED,
    rc_key_requests: RELAXED,
    rc_3pid_validation: RELAXED,
    rc_invites: { per_room: RELAXED, per_user: RELAXED, per_issuer: RELAXED },
    rc_third_party_invite: RELAXED,
    rc_media_create: RELAXED,
    rc_presence: { per_user: RELAXED },
    rc_delayed_event_mgmt: RELAXED,
    rc_room_creation: RELAXED,
    rc_reports: RELAXED,
    rc_user_directory: RELAXED,
    rc_profile: RELAXED,
  };
}

/** The homeserver.yaml (JSON is valid YAML). */
export function synapseConfig({ dir, port, registrationSharedSecret }) {
  return {
    server_name: 'localhost',
    public_baseurl: `http://127.0.0.1:${port}/`,
    pid_file: join(dir, 'homeserver.pid'),
    signing_key_path: join(dir, 'localhost.signing.key'),
    media_store_path: join(dir, 'media_store'),
    log_config: join(dir, 'log.config.json'),
    listeners: [
      {
        port,
        bind_addresses: ['127.0.0.1'],
        type: 'http',
        tls: false,
        x_forwarded: false,
        resources: [{ names: ['client'], compress: false }],
      },
    ],
    database: { name: 'sqlite3', args: { database: join(dir, 'homeserver.db') } },
    report_stats: false,
    enable_metrics: false,
    enable_registration: false,
    registration_shared_secret: registrationSharedSecret,
    macaroon_secret_key: randomBytes(24).toString('hex'),
    form_secret: randomBytes(24).toString('hex'),
    federation_domain_whitelist: [],
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    url_preview_enabled: false,
    presence: { enabled: false },
    // keep the server from phoning anywhere
    limit_usage_by_mau: false,
    mau_stats_only: false,
    ...rateLimits(),
  };
}

/** Python logging dictConfig: INFO to dir/homeserver.log, incl. synapse.access.http.<port>. */
export function logConfig(logPath) {
  return {
    version: 1,
    formatters: {
      precise: {
        format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s',
      },
    },
    filters: {
      context: { '()': 'synapse.logging.context.LoggingContextFilter', request: '' },
    },
    handlers: {
      file: {
        class: 'logging.FileHandler',
        formatter: 'precise',
        filename: logPath,
        filters: ['context'],
        encoding: 'utf8',
      },
    },
    loggers: {
      synapse: { level: 'INFO' },
      'synapse.access.http': { level: 'INFO' },
      'synapse.storage.SQL': { level: 'WARNING' },
      twisted: { level: 'WARNING' },
    },
    root: { level: 'INFO', handlers: ['file'] },
    disable_existing_loggers: false,
  };
}

/**
 * A Synapse signing key file, byte-compatible with what `--generate-keys` writes:
 * `ed25519 a_XXXX <unpadded base64 of the 32-byte seed>`.
 */
export function signingKeyFile() {
  const der = generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' });
  const seed = der.subarray(der.length - 32);
  const alnum = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const id = Array.from(randomBytes(4), (b) => alnum[b % alnum.length]).join('');
  return `ed25519 a_${id} ${seed.toString('base64').replace(/=+$/, '')}\n`;
}

// ---------------------------------------------------------------------------------------------
// access log parsing

// Synapse 1.163 (synapse/http/site.py, _finished_processing), with our formatter:
// 2025-11-23 07:40:01,234 - synapse.access.http.8008 - 475 - INFO - POST-12 - 127.0.0.1 - 8008 - {@alice:localhost}
//   Processed request: 0.004sec/0.000sec ru=(0.003sec, 0.000sec) db=(0.000sec/0.001sec/3) 211B 400
//   "POST /_matrix/client/v3/keys/upload HTTP/1.1" "Mozilla/5.0 ..." [0 dbevts]
// (one line). The status may end in "!" when the client went away before the answer was sent.
const ACCESS_RE =
  /^(\S+ \S+) - synapse\.access\.http\.\S+ - \d+ - \w+ - (\S+) - (\S+) - (\S+) - \{([^}]*)\} Processed request: ([\d.]+)sec\/([-\d.]+)sec .*? (\S+)B (\d{3})(!?) "(\S+) (\S+) ([^"\s]+)" "(.*)" \[\d+ dbevts\]$/;

/** Parse the access lines out of a Synapse log text. */
export function parseAccessLog(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.includes('Processed request:')) continue;
    const m = ACCESS_RE.exec(line);
    if (!m) continue;
    out.push({
      time: m[1],
      requestId: m[2],
      ip: m[3],
      site: m[4],
      user: m[5] && m[5] !== 'None' ? m[5] : null,
      seconds: Number(m[6]),
      bytes: m[8] === 'None' ? 0 : Number(m[8]),
      status: Number(m[9]),
      aborted: m[10] === '!',
      method: m[11],
      path: m[12],
      protocol: m[13],
      userAgent: m[14],
    });
  }
  return out;
}

function matches(r, { method, pathIncludes, path, status, user } = {}) {
  if (method && r.method !== method.toUpperCase()) return false;
  if (pathIncludes && !r.path.includes(pathIncludes)) return false;
  if (path instanceof RegExp && !path.test(r.path)) return false;
  if (status !== undefined && status !== null) {
    if (typeof status === 'function') {
      if (!status(r.status)) return false;
    } else if (Array.isArray(status)) {
      if (!status.map(Number).includes(r.status)) return false;
    } else if (r.status !== Number(status)) return false;
  }
  if (user && r.user !== user && !(r.user || '').endsWith(`|${user}`)) return false;
  return true;
}

function readFrom(path, offset) {
  if (!existsSync(path)) return '';
  const size = statSync(path).size;
  if (size <= offset) return '';
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// process bookkeeping: children die with us

const children = new Set(); // ChildProcess
const running = new Set(); // stop() functions of live homeservers
let exitHooksInstalled = false;

function killChildrenSync() {
  for (const child of children) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
}

function installExitHooks() {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // last resort: nothing outlives us (the child also has PR_SET_PDEATHSIG, for when we are SIGKILLed)
  process.on('exit', killChildrenSync);
  for (const [sig, num] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
    process.on(sig, async () => {
      // somebody else (e.g. scripts/demo.mjs) handles this signal and calls stop() itself
      if (process.listenerCount(sig) > 1) return;
      await Promise.allSettled([...running].map((stop) => stop({ graceMs: 3000 })));
      process.exit(128 + num);
    });
  }
}

// Python bootstrap: die with the parent (PR_SET_PDEATHSIG) even if node is SIGKILLed, then run Synapse.
const BOOTSTRAP = [
  'import ctypes, os, runpy, signal, sys',
  'try:',
  '    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)',
  'except Exception:',
  '    pass',
  'if os.getppid() == 1:',
  '    sys.exit(0)',
  'sys.argv = ["synapse.app.homeserver"] + sys.argv[1:]',
  'runpy.run_module("synapse.app.homeserver", run_name="__main__", alter_sys=True)',
].join('\n');

function tail(path, lines = 40) {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function run(python, args, { cwd, timeoutMs = 120_000 } = {}) {
  return new Promise((res, rej) => {
    const p = spawn(python, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => {
      clearTimeout(t);
      rej(e);
    });
    p.on('exit', (code, signal) => {
      clearTimeout(t);
      if (code === 0) res(out);
      else rej(new Error(`${python} ${args.join(' ')} failed (${code ?? signal}):\n${out}`));
    });
  });
}

/**
 * Start a real Synapse.
 * @param {{dir?: string, port?: number, python?: string, startTimeoutMs?: number}} [opts]
 */
export async function startHomeserver({ dir, port, python = synapsePython(), startTimeoutMs = 90_000, removeDirOnStop } = {}) {
  if (!existsSync(python)) {
    throw new Error(`Synapse python not found at ${python} (set MCG_SYNAPSE_PYTHON or create the venv ~/.cache/mcg-synapse-venv)`);
  }
  // a temp dir we made ourselves is removed on stop() unless asked otherwise (or MCG_KEEP_HS_DIR=1)
  if (removeDirOnStop === undefined) removeDirOnStop = !dir && process.env.MCG_KEEP_HS_DIR !== '1';
  dir = resolve(dir || mkdtempSync(join(tmpdir(), 'mcg-synapse-')));
  mkdirSync(dir, { recursive: true });
  mkdirSync(join(dir, 'media_store'), { recursive: true });
  port = port || (await freePort());

  const configPath = join(dir, 'homeserver.yaml');
  const logPath = join(dir, 'homeserver.log');
  const secretPath = join(dir, 'registration_shared_secret');
  // Reuse the secret of an existing dir so a demo dir keeps working across restarts.
  const registrationSharedSecret = existsSync(secretPath)
    ? readFileSync(secretPath, 'utf8').trim()
    : randomBytes(32).toString('hex');
  writeFileSync(secretPath, registrationSharedSecret + '\n', { mode: 0o600 });
  const config = synapseConfig({ dir, port, registrationSharedSecret });
  writeFileSync(configPath, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  writeFileSync(config.log_config, JSON.stringify(logConfig(logPath), null, 2) + '\n');

  if (!existsSync(config.signing_key_path)) {
    if (process.env.MCG_SYNAPSE_GENERATE_KEYS === '1') {
      // Synapse's own way (one extra python start, ~3 s)
      await run(python, ['-m', 'synapse.app.homeserver', '--config-path', configPath, '--generate-keys'], { cwd: dir });
    } else {
      writeFileSync(config.signing_key_path, signingKeyFile(), { mode: 0o600 });
    }
  }

  if (await portInUse(port)) throw new Error(`port ${port} on 127.0.0.1 is already in use`);

  installExitHooks();
  const logStartOffset = existsSync(logPath) ? statSync(logPath).size : 0;
  const child = spawn(python, ['-c', BOOTSTRAP, '-c', configPath], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  const keep = (d) => {
    output += d;
    if (output.length > 20_000) output = output.slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const exitPromise = new Promise((res) =>
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      children.delete(child);
      res(exited);
    }),
  );

  const baseUrl = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (exited) {
      throw new Error(
        `Synapse exited during startup (${exited.code ?? exited.signal}).\n--- output ---\n${output}\n--- log tail ---\n${tail(logPath)}`,
      );
    }
    try {
      const r = await fetch(`${baseUrl}/_matrix/client/versions`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() - started > startTimeoutMs) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {}
      throw new Error(`Synapse did not answer on ${baseUrl} within ${startTimeoutMs} ms.\n--- output ---\n${output}\n--- log tail ---\n${tail(logPath)}`);
    }
    await sleep(150);
  }

  async function api(method, path, { body, token } = {}) {
    const headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const r = await fetch(baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = { raw: text };
    }
    if (!r.ok) {
      const err = new Error(`${method} ${path} -> ${r.status}: ${text.slice(0, 500)}`);
      err.status = r.status;
      err.body = json;
      throw err;
    }
    return json;
  }

  /**
   * Register a user via the shared-secret admin API. With existOk, an existing user is not an error
   * (then only { userId, password } come back).
   */
  async function registerUser(localpart, password, { admin = false, displayname, existOk = false } = {}) {
    const { nonce } = await api('GET', '/_synapse/admin/v1/register');
    const mac = createHmac('sha1', registrationSharedSecret)
      .update(nonce)
      .update('\x00')
      .update(localpart)
      .update('\x00')
      .update(password)
      .update('\x00')
      .update(admin ? 'admin' : 'notadmin')
      .digest('hex');
    const body = { nonce, username: localpart, password, admin, mac };
    if (displayname) body.displayname = displayname;
    let res;
    try {
      res = await api('POST', '/_synapse/admin/v1/register', { body });
    } catch (e) {
      if (existOk && e.body && e.body.errcode === 'M_USER_IN_USE') return { userId: `@${localpart}:localhost`, password };
      throw e;
    }
    return { userId: res.user_id, password, accessToken: res.access_token, deviceId: res.device_id };
  }

  /** Password login (creates a new device). */
  async function login(localpart, password, { deviceId, displayName } = {}) {
    const body = {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: localpart },
      password,
    };
    if (deviceId) body.device_id = deviceId;
    if (displayName) body.initial_device_display_name = displayName;
    const res = await api('POST', '/_matrix/client/v3/login', { body });
    return { accessToken: res.access_token, deviceId: res.device_id, userId: res.user_id };
  }

  /** Byte offset into the log: pass as `since` to only count later requests. */
  function mark() {
    return existsSync(logPath) ? statSync(logPath).size : 0;
  }

  /** Parsed access-log entries of this run (or since a mark()), filtered. */
  function requests(filter = {}) {
    const since = filter.since ?? logStartOffset;
    return parseAccessLog(readFrom(logPath, since)).filter((r) => matches(r, filter));
  }

  /** Count access-log entries: { method, pathIncludes, path: RegExp, status: n | [n] | fn, user, since }. */
  function countRequests(filter = {}) {
    return requests(filter).length;
  }

  /** Wait until countRequests(filter) >= n. */
  async function waitForRequests(filter, n = 1, { timeout = 30_000, interval = 200 } = {}) {
    const t0 = Date.now();
    for (;;) {
      const c = countRequests(filter);
      if (c >= n) return c;
      if (Date.now() - t0 > timeout) throw new Error(`timed out waiting for ${n} requests matching ${JSON.stringify(filter)} (have ${c})`);
      await sleep(interval);
    }
  }

  let stopping = null;
  /** SIGTERM by pid, wait, SIGKILL after a few seconds. */
  function stop({ graceMs = 5000, removeDir = removeDirOnStop } = {}) {
    if (stopping) return stopping;
    running.delete(stop);
    stopping = (async () => {
      if (!exited) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {}
        const timer = sleep(graceMs).then(() => 'timeout');
        const r = await Promise.race([exitPromise, timer]);
        if (r === 'timeout') {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {}
          await exitPromise;
        }
      }
      if (removeDir) rmSync(dir, { recursive: true, force: true });
      return exited;
    })();
    return stopping;
  }

  running.add(stop);
  return {
    baseUrl,
    serverName: 'localhost',
    dir,
    port,
    configPath,
    logPath,
    pid: child.pid,
    process: child,
    registrationSharedSecret,
    api,
    registerUser,
    login,
    mark,
    requests,
    countRequests,
    waitForRequests,
    logTail: (n) => tail(logPath, n),
    stop,
  };
}
