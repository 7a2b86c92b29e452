// A hostile homeserver for the fetch tap: one node:http server on 127.0.0.1 that serves a blank page,
// the built package under /pkg/, and keys/upload answers no real server should give (HTML 502 pages,
// cut JSON, 10 MB, a slow drip, wrong content types, 204, a connection cut mid-body, a request left
// hanging), plus plain endpoints for requests the tap must not touch.
//
//   const hs = await startHostileServer();
//   hs.url                      http://127.0.0.1:<port>
//   hs.log                      every request: { method, path, tag, headers, bodyLength, bodySha256 }
//   hs.requests(tag)            the log entries for one ?tag=
//   await hs.close()
//
// Every answer is chosen by the query: `?case=<name>&tag=<label>`. The server sends no Date header,
// so two identical requests get byte-identical answers (with and without the guardian).
//
// pageHelpers (installed with page.addInitScript) gives every page `window.__tap.run(spec)`: one fetch
// made the way `spec` says, described down to the body's SHA-256 and the error's name and message.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { MIME } from '../../scripts/serve.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
// MCG_PKG_DIR: serve another copy of the built package (e.g. a snapshot while pkg/ is being rebuilt).
const PKG = resolve(process.env.MCG_PKG_DIR || join(ROOT, 'pkg'));

export const UPLOAD_PATH = '/_matrix/client/v3/keys/upload';
/** The header that marks the guardian's own answers (js/fetch-tap.js GUARDIAN_HEADER). */
export const GUARDIAN_HEADER_NAME = 'x-matrix-crypto-guardian';
export const TEN_MB = 10 * 1024 * 1024;

/** Synapse's conflict text for `keyId`, as its JSON answer. */
export function synapseConflict(keyId) {
  const error = `One time key ${keyId} already exists. Old key: {"key":"b2xk","signatures":{}}; new key: {'key': 'bmV3', 'signatures': {}}`;
  return JSON.stringify({ errcode: 'M_UNKNOWN', error });
}

/** The first one-time (or fallback) key id of a keys/upload request body, or a placeholder. */
function firstKeyId(body) {
  try {
    const v = JSON.parse(body.toString('utf8'));
    return Object.keys(v.one_time_keys || v.fallback_keys || {})[0] || 'signed_curve25519:NONE';
  } catch {
    return 'signed_curve25519:UNREADABLE';
  }
}

const NGINX_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

/** The answers, by `?case=`. Each gets (req, res, body, url) and the server's helpers. */
const CASES = {
  conflict(req, res, body) {
    send(res, 400, synapseConflict(firstKeyId(body)), 'application/json');
  },
  ok(req, res) {
    send(res, 200, JSON.stringify({ one_time_key_counts: { signed_curve25519: 50 } }), 'application/json');
  },
  html502(req, res) {
    send(res, 502, NGINX_502, 'text/html');
  },
  // The HTTP message is whole, the JSON inside is not.
  truncated(req, res, body) {
    const full = synapseConflict(firstKeyId(body));
    send(res, 400, full.slice(0, Math.floor(full.length * 0.6)), 'application/json');
  },
  // Content-Length promises more than is sent; the connection is cut mid-body.
  cut(req, res, body) {
    const full = Buffer.from(synapseConflict(firstKeyId(body)));
    res.writeHead(400, { 'content-type': 'application/json', 'content-length': full.length });
    res.write(full.subarray(0, 40), () => setTimeout(() => res.socket?.destroy(), 50));
  },
  big(req, res, body) {
    // A conflict first, then padding: 10 MB of valid JSON.
    const head = synapseConflict(firstKeyId(body)).slice(0, -1) + ',"padding":"';
    const buf = Buffer.alloc(TEN_MB, 'x');
    buf.write(head, 0);
    buf.write('"}', TEN_MB - 2);
    send(res, 400, buf, 'application/json');
  },
  // The whole conflict, 20 chunks over about 2 s.
  drip(req, res, body) {
    const full = Buffer.from(synapseConflict(firstKeyId(body)));
    res.writeHead(400, { 'content-type': 'application/json' });
    const n = 20;
    const size = Math.ceil(full.length / n);
    let i = 0;
    const tick = () => {
      if (res.destroyed) return;
      res.write(full.subarray(i * size, (i + 1) * size));
      i += 1;
      if (i * size >= full.length) res.end();
      else setTimeout(tick, 100);
    };
    tick();
  },
  'text-plain'(req, res, body) {
    send(res, 400, synapseConflict(firstKeyId(body)), 'text/plain; charset=utf-8');
  },
  'no-type'(req, res, body) {
    send(res, 400, synapseConflict(firstKeyId(body)), null);
  },
  'octet-200'(req, res) {
    send(res, 200, JSON.stringify({ one_time_key_counts: {} }), 'application/octet-stream');
  },
  'html-200'(req, res) {
    send(res, 200, '<html><body>captive portal: sign in</body></html>', 'text/html');
  },
  'json-charset-latin1'(req, res) {
    send(res, 400, Buffer.from('{"errcode":"M_UNKNOWN","error":"caf\xe9 one time key already exists"}', 'latin1'), 'application/json; charset=iso-8859-1');
  },
  empty204(req, res) {
    res.writeHead(204);
    res.end();
  },
  'empty-400'(req, res) {
    send(res, 400, '', 'application/json');
  },
  // 307 keeps the method and body: the client follows it to an ok answer.
  redirect307(req, res, body, url) {
    const to = new URL(url);
    to.searchParams.set('case', 'ok');
    res.writeHead(307, { location: to.pathname + to.search });
    res.end();
  },
  // No answer until the client goes away.
  hang() {},
  // Headers and half a body, then nothing until the client goes away.
  'partial-hang'(req, res, body) {
    const full = Buffer.from(synapseConflict(firstKeyId(body)));
    res.writeHead(400, { 'content-type': 'application/json', 'content-length': full.length });
    res.write(full.subarray(0, 30));
  },
  // Not an upload answer: echoes what arrived, with a few headers of its own.
  echo(req, res, body) {
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-echo-method': req.method,
      'x-echo-length': String(body.length),
      'cache-control': 'no-store',
      etag: '"abc"',
    });
    res.end(JSON.stringify({ method: req.method, length: body.length, authorization: req.headers.authorization || null }));
  },
  // 302 to the echo: fetch follows it and the host sees redirected = true.
  redirect302(req, res, body, url) {
    const to = new URL(url);
    to.searchParams.set('case', 'echo');
    res.writeHead(302, { location: to.pathname + to.search });
    res.end();
  },
};

function send(res, status, body, type) {
  const headers = { 'content-length': Buffer.byteLength(body) };
  if (type) headers['content-type'] = type;
  res.writeHead(status, headers);
  res.end(body);
}

function under(base, rel) {
  const p = normalize(join(base, rel));
  return p === base || p.startsWith(base + sep) ? p : null;
}

/** Starts the server. */
export async function startHostileServer() {
  const log = [];
  const seen = new Map();
  const server = createServer((req, res) => {
    res.sendDate = false;
    const url = new URL(req.url, 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/') {
      return send(res, 200, '<!doctype html><meta charset="utf-8"><title>tap</title><body>hostile page</body>', 'text/html; charset=utf-8');
    }
    if (url.pathname === '/__seen') {
      return send(res, 200, JSON.stringify(seen.get(url.searchParams.get('tag')) || 0), 'application/json');
    }
    if (url.pathname.startsWith('/pkg/')) {
      // MCG_TAP_SOURCE=js serves the tap from js/ (build.sh copies it verbatim): test a tap edit
      // without rebuilding pkg/.
      const file =
        process.env.MCG_TAP_SOURCE === 'js' && url.pathname === '/pkg/fetch-tap.js'
          ? join(ROOT, 'js', 'fetch-tap.js')
          : under(PKG, decodeURIComponent(url.pathname.slice(4)));
      if (!file || !existsSync(file) || !statSync(file).isFile()) return send(res, 404, 'not found', 'text/plain');
      res.writeHead(200, { 'content-type': MIME[extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
      return createReadStream(file).pipe(res);
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const tag = url.searchParams.get('tag');
      log.push({
        method: req.method,
        path: url.pathname,
        query: url.search,
        tag,
        headers: {
          authorization: req.headers.authorization ?? null,
          'content-type': req.headers['content-type'] ?? null,
          'x-host': req.headers['x-host'] ?? null,
        },
        bodyLength: body.length,
        bodySha256: createHash('sha256').update(body).digest('hex'),
      });
      if (tag) seen.set(tag, (seen.get(tag) || 0) + 1);
      const handler = CASES[url.searchParams.get('case') || 'echo'];
      if (!handler) return send(res, 404, `no case ${url.searchParams.get('case')}`, 'text/plain');
      handler(req, res, body, url.href);
    });
  });
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    log,
    requests: (tag) => log.filter((e) => e.tag === tag),
    close: () =>
      new Promise((ok) => {
        server.close(() => ok());
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * Runs in the page (page.addInitScript): `window.__tap`.
 *
 * run(spec) makes one fetch and describes what the host saw. spec:
 *   url            request URL (relative to the page)
 *   input          'string' | 'url' | 'request' (init folded into the Request) | 'request+init'
 *   method, body   the request (body: a string)
 *   bodyKind       'string' | 'blob' | 'buffer' | 'stream' (a ReadableStream, duplex 'half')
 *   headers        null | 'headers' | 'array' | 'object' — how init.headers is given (`headerPairs`)
 *   call           'direct' | 'call-window' | 'detached' | 'apply-null' | 'call-object' | 'reflect'
 *   signal         'none' | 'pre-aborted' | 'abort-when-seen' (aborts once the server has the request)
 *                  | 'abort-mid-body' (aborts after the headers, while the body is read)
 *   read           'bytes' (default) | 'none'
 */
export function pageHelpers() {
  const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
  const errorOf = (e) => ({ name: e && e.name, message: e && e.message, ctor: e && e.constructor && e.constructor.name });
  const errors = [];
  addEventListener('unhandledrejection', (e) => errors.push(`unhandledrejection: ${e.reason}`));
  addEventListener('error', (e) => errors.push(`error: ${e.message}`));

  async function seenCount(tag) {
    const r = await fetch(`/__seen?tag=${encodeURIComponent(tag)}`);
    return r.json();
  }

  function makeBody(spec) {
    if (spec.body == null) return undefined;
    switch (spec.bodyKind || 'string') {
      case 'blob':
        return new Blob([spec.body], { type: 'application/json' });
      case 'buffer':
        return new TextEncoder().encode(spec.body).buffer;
      case 'stream': {
        const bytes = new TextEncoder().encode(spec.body);
        return new ReadableStream({
          start(c) {
            c.enqueue(bytes.subarray(0, 10));
            c.enqueue(bytes.subarray(10));
            c.close();
          },
        });
      }
      default:
        return spec.body;
    }
  }

  function makeHeaders(spec) {
    const pairs = spec.headerPairs || [];
    switch (spec.headers) {
      case 'headers':
        return new Headers(pairs);
      case 'array':
        return pairs.map((p) => [...p]);
      case 'object':
        return Object.fromEntries(pairs);
      default:
        return undefined;
    }
  }

  async function run(spec) {
    const init = {};
    if (spec.method) init.method = spec.method;
    const body = makeBody(spec);
    if (body !== undefined) init.body = body;
    if (spec.bodyKind === 'stream') init.duplex = 'half';
    const headers = makeHeaders(spec);
    if (headers !== undefined) init.headers = headers;
    const ac = new AbortController();
    if (spec.signal === 'pre-aborted') ac.abort();
    if (spec.signal && spec.signal !== 'none') init.signal = ac.signal;

    let input;
    let args;
    const absolute = new URL(spec.url, location.href);
    switch (spec.input || 'string') {
      case 'url':
        input = absolute;
        args = [input, init];
        break;
      case 'request':
        input = new Request(absolute, init);
        args = [input];
        break;
      case 'request+init':
        // The Request carries method and body; init only the headers (and signal).
        input = new Request(absolute, { method: init.method, body: init.body, duplex: init.duplex });
        args = [input, { headers: init.headers, signal: init.signal }];
        break;
      default:
        input = spec.url;
        args = [input, init];
    }

    const before = spec.signal === 'abort-when-seen' ? await seenCount(spec.tag) : 0;
    let promise;
    try {
      switch (spec.call || 'direct') {
        case 'call-window':
          promise = window.fetch.call(window, ...args);
          break;
        case 'detached': {
          const f = window.fetch;
          promise = f(...args);
          break;
        }
        case 'apply-null':
          promise = window.fetch.apply(null, args);
          break;
        case 'call-object':
          promise = window.fetch.call({ not: 'a window' }, ...args);
          break;
        case 'reflect':
          promise = Reflect.apply(window.fetch, globalThis, args);
          break;
        default:
          promise = fetch(...args);
      }
    } catch (e) {
      return { thrownSync: errorOf(e) };
    }
    if (spec.signal === 'abort-when-seen') {
      while ((await seenCount(spec.tag)) <= before) await new Promise((r) => setTimeout(r, 10));
      ac.abort();
    }
    let res;
    try {
      res = await promise;
    } catch (e) {
      return { rejected: errorOf(e) };
    }
    const out = {
      status: res.status,
      statusText: res.statusText,
      ok: res.ok,
      type: res.type,
      url: res.url,
      redirected: res.redirected,
      headers: [...res.headers],
      bodyUsed: res.bodyUsed,
    };
    if (spec.read === 'none') return out;
    try {
      if (spec.signal === 'abort-mid-body') {
        const reader = res.body.getReader();
        const first = await reader.read();
        out.firstChunk = first.value ? first.value.byteLength : 0;
        ac.abort();
        for (;;) {
          const { done } = await reader.read();
          if (done) break;
        }
        out.readToEnd = true;
      } else {
        const buf = await res.arrayBuffer();
        out.length = buf.byteLength;
        out.sha256 = hex(await crypto.subtle.digest('SHA-256', buf));
        out.head = new TextDecoder().decode(buf.slice(0, 160));
      }
    } catch (e) {
      out.bodyError = errorOf(e);
    }
    return out;
  }

  window.__tap = { run, errors, seenCount };
}
