#!/usr/bin/env node
// Tiny static server for the demo (node:http, no dependencies), bound to 127.0.0.1.
//
//   /            -> www/        (index.html, dropin.html, dist/…)
//   /pkg/        -> pkg/        (the built guardian package)
//   /config.json -> { "homeserver": "<url>" } when a homeserver is given, else www/config.json
//   /csp.html, /csp-dropin.html -> www/index.html, www/dropin.html served with STRICT_CSP as a response header
//
//   node scripts/serve.mjs [--port 8080] [--homeserver http://127.0.0.1:8008] [--root DIR]

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.cjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.ts': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** Issue 9's strict policy: no inline script or style anywhere, wasm compilation allowed. */
export const STRICT_CSP = "script-src 'self' 'wasm-unsafe-eval'; style-src 'self'";

// The demo pages again, under the strict policy (tests/e2e/csp.test.mjs): the same files, so what runs
// under the policy is exactly the demo, not a copy that could drift.
const STRICT_PAGES = { '/csp.html': '/index.html', '/csp-dropin.html': '/dropin.html' };

/** Map a URL path onto a file under base, refusing anything that escapes it. */
function under(base, rel) {
  const p = normalize(join(base, rel));
  return p === base || p.startsWith(base + sep) ? p : null;
}

/**
 * Start the static server.
 * @param {{port?: number, host?: string, root?: string, www?: string, pkg?: string, homeserver?: string, log?: boolean}} [opts]
 *   port 0 (default) picks a free port; root is the repository root (www/ and pkg/ under it).
 * @returns {Promise<{url: string, port: number, server: import('node:http').Server, setHomeserver(url: string): void, close(): Promise<void>}>}
 */
export async function serve({ port = 0, host = '127.0.0.1', root = ROOT, www, pkg, homeserver, log = false } = {}) {
  const wwwDir = resolve(www || join(root, 'www'));
  const pkgDir = resolve(pkg || join(root, 'pkg'));
  let hs = homeserver;

  const server = createServer((req, res) => {
    const send = (status, body, type = 'text/plain; charset=utf-8', extra = {}) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n', undefined, { allow: 'GET, HEAD' });
      const url = new URL(req.url, 'http://localhost');
      let path;
      try {
        path = decodeURIComponent(url.pathname);
      } catch {
        return send(400, 'bad path\n');
      }
      if (log) console.log(`${req.method} ${url.pathname}`);

      if (path === '/config.json' && hs) {
        return send(200, JSON.stringify({ homeserver: hs }) + '\n', MIME['.json']);
      }

      let file;
      if (path === '/pkg' || path.startsWith('/pkg/')) file = under(pkgDir, path.slice(4) || '/');
      else file = under(wwwDir, STRICT_PAGES[path] || path);
      if (!file) return send(403, 'forbidden\n');
      if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
      if (!existsSync(file) || !statSync(file).isFile()) return send(404, `not found: ${path}\n`);

      const st = statSync(file);
      res.writeHead(200, {
        'content-type': MIME[extname(file).toLowerCase()] || 'application/octet-stream',
        'content-length': st.size,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        ...(STRICT_PAGES[path] ? { 'content-security-policy': STRICT_CSP } : {}),
      });
      if (req.method === 'HEAD') return res.end();
      const stream = createReadStream(file);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    } catch (e) {
      send(500, `error: ${e.message}\n`);
    }
  });
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(port, host, () => {
      server.off('error', rej);
      res();
    });
  });
  const actualPort = server.address().port;
  const url = `http://${host}:${actualPort}`;
  return {
    url,
    port: actualPort,
    server,
    setHomeserver(u) {
      hs = u;
    },
    close() {
      return new Promise((res) => {
        server.close(() => res());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

/** Try `port`, then the next ones, until one is free. */
export async function serveOnFreePort(opts = {}, tries = 20) {
  const first = opts.port || 8080;
  let lastErr;
  for (let p = first; p < first + tries; p++) {
    try {
      return await serve({ ...opts, port: p });
    } catch (e) {
      if (e.code !== 'EADDRINUSE') throw e;
      lastErr = e;
    }
  }
  throw lastErr;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, def) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : def;
  };
  const s = await serveOnFreePort({
    port: Number(opt('port', 8080)),
    root: opt('root', ROOT),
    homeserver: opt('homeserver', undefined),
    log: args.includes('--log'),
  });
  console.log(`serving ${s.url}/ (www/) and ${s.url}/pkg/ (pkg/)`);
  const stop = () => s.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
