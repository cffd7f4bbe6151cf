'use strict';
// Discord interactions endpoint on node:http and node:crypto, without npm
// dependencies. POST /interactions verifies the Ed25519 signature over the
// X-Signature-Timestamp string followed by the raw body bytes, then answers
// a PING with {"type":1} and a slash command with a deferred response
// ({"type":5}). A bad or missing signature gets 401, a body that is not an
// interaction of a handled type gets 400.
//
// Environment: PORT (default 8080) and DISCORD_PUBLIC_KEY (64 hex
// characters). Listens on 0.0.0.0:PORT and exits 0 on SIGTERM or SIGINT.

const http = require('node:http');
const crypto = require('node:crypto');

const BODY_MAX = 65536; // bytes; larger requests get 413
const TIMESTAMP_TOLERANCE = 300; // seconds between our clock and the sender's
const SHUTDOWN_GRACE_MS = 5000; // Cloud Run kills 10 s after SIGTERM
const SIGNATURE_HEX = /^[0-9a-fA-F]{128}$/;
const TIMESTAMP = /^[0-9]{1,18}$/;
const KEY_HEX = /^[0-9a-fA-F]{64}$/;
const DECIMAL = /^[0-9]{1,10}$/;

const PING = 1;
const APPLICATION_COMMAND = 2;

function log(severity, message) {
  process.stderr.write(JSON.stringify({ severity, message }) + '\n');
}

// A raw 32-byte Ed25519 public key, imported through its JWK form.
function importPublicKey(hex) {
  const x = Buffer.from(hex, 'hex').toString('base64url');
  return crypto.createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x },
    format: 'jwk',
  });
}

function signatureValid(key, signature, timestamp, body) {
  // A missing header is undefined, and a repeated one arrives joined with
  // ", ", which fails the format checks.
  if (typeof signature !== 'string' || typeof timestamp !== 'string') {
    return false;
  }
  // Buffer.from(s, 'hex') stops at the first bad digit, so the format is
  // checked first.
  if (!SIGNATURE_HEX.test(signature) || !TIMESTAMP.test(timestamp)) {
    return false;
  }
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TIMESTAMP_TOLERANCE) {
    return false;
  }
  const message = Buffer.concat([Buffer.from(timestamp, 'ascii'), body]);
  return crypto.verify(null, message, key, Buffer.from(signature, 'hex'));
}

// The integer type of a JSON object body, or null.
function interactionType(body) {
  let interaction;
  try {
    interaction = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (interaction === null || typeof interaction !== 'object' ||
      Array.isArray(interaction)) {
    return null;
  }
  return Number.isInteger(interaction.type) ? interaction.type : null;
}

function reply(res, status, body, close) {
  const headers = {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  };
  if (close) {
    headers.Connection = 'close';
  }
  res.writeHead(status, headers);
  res.end(body);
}

function handle(key, req, res) {
  const path = req.url.split('?', 1)[0];
  if (path !== '/interactions') {
    reply(res, 404, '{"error":"not found"}', true);
    req.resume();
    return;
  }
  if (req.method !== 'POST') {
    res.setHeader('Allow', 'POST');
    reply(res, 405, '{"error":"method not allowed"}', true);
    req.resume();
    return;
  }

  const chunks = [];
  let length = 0;
  let tooLarge = false;
  req.on('data', (chunk) => {
    if (tooLarge) {
      return;
    }
    length += chunk.length;
    if (length > BODY_MAX) {
      tooLarge = true;
      reply(res, 413, '{"error":"body too large"}', true);
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (tooLarge) {
      return;
    }
    const body = Buffer.concat(chunks);
    if (!signatureValid(key, req.headers['x-signature-ed25519'],
        req.headers['x-signature-timestamp'], body)) {
      reply(res, 401, '{"error":"invalid request signature"}');
      return;
    }
    switch (interactionType(body)) {
      case PING:
        reply(res, 200, '{"type":1}');
        break;
      case APPLICATION_COMMAND:
        // Deferred: a follow-up message would carry the result later.
        reply(res, 200, '{"type":5}');
        break;
      default:
        reply(res, 400, '{"error":"not an interaction of a handled type"}');
    }
  });
}

function main() {
  const keyHex = process.env.DISCORD_PUBLIC_KEY || '';
  if (!KEY_HEX.test(keyHex)) {
    log('ERROR', 'DISCORD_PUBLIC_KEY must be 64 hex characters');
    process.exit(1);
  }
  const portText = process.env.PORT || '8080';
  const port = Number(portText);
  if (!DECIMAL.test(portText) || port < 1 || port > 65535) {
    log('ERROR', 'PORT must be a number 1-65535');
    process.exit(1);
  }
  const key = importPublicKey(keyHex);

  const server = http.createServer((req, res) => handle(key, req, res));
  server.on('clientError', (err, socket) => {
    if (socket.writable) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    }
  });
  const stop = (signal) => {
    log('INFO', `${signal} received, shutting down`);
    server.close(() => {
      log('INFO', 'stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  server.listen(port, '0.0.0.0', () => {
    log('INFO', `listening on 0.0.0.0:${port}`);
  });
}

main();
