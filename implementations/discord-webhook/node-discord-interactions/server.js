'use strict';
// Discord interactions endpoint on express with verifyKeyMiddleware from
// the discord-interactions package, used unchanged: the middleware checks
// the signature (401 when it is missing or wrong) and responds to PING
// itself. This file responds to a slash command with a deferred response
// ({"type":5}) and to anything else with 400.
//
// Environment: PORT (default 8080) and DISCORD_PUBLIC_KEY (64 hex
// characters). Listens on 0.0.0.0:PORT and exits 0 on SIGTERM or SIGINT.
//
// The middleware does not check how old the timestamp is, so the optional
// replay vectors fail here. That is the package's behaviour (version 4.4.0).

const express = require('express');
const {
  InteractionResponseType,
  InteractionType,
  verifyKeyMiddleware,
} = require('discord-interactions');

const BODY_MAX = '64kb'; // larger requests get 413
const SHUTDOWN_GRACE_MS = 5000; // Cloud Run kills 10 s after SIGTERM
const KEY_HEX = /^[0-9a-fA-F]{64}$/;
const DECIMAL = /^[0-9]{1,10}$/;

function log(severity, message) {
  process.stderr.write(JSON.stringify({ severity, message }) + '\n');
}

function main() {
  const publicKey = process.env.DISCORD_PUBLIC_KEY || '';
  if (!KEY_HEX.test(publicKey)) {
    log('ERROR', 'DISCORD_PUBLIC_KEY must be 64 hex characters');
    process.exit(1);
  }
  const portText = process.env.PORT || '8080';
  const port = Number(portText);
  if (!DECIMAL.test(portText) || port < 1 || port > 65535) {
    log('ERROR', 'PORT must be a number 1-65535');
    process.exit(1);
  }

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  // express.raw() hands the middleware the body as the exact bytes
  // received (a Buffer), whatever the Content-Type. Without it the
  // middleware reads the stream itself, and a signed body that is not
  // JSON throws inside its 'end' listener, where nothing catches it, so
  // the process dies. With it the error reaches the handler below as a 400.
  app.post('/interactions',
    express.raw({ type: () => true, limit: BODY_MAX }),
    verifyKeyMiddleware(publicKey),
    (req, res) => {
      const interaction = req.body;
      if (interaction.type === InteractionType.APPLICATION_COMMAND) {
        // Deferred: a follow-up message would carry the result later.
        res.json({
          type: InteractionResponseType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
        });
        return;
      }
      res.status(400).json({ error: 'not an interaction of a handled type' });
    });

  app.all('/interactions', (req, res) => {
    res.set('Allow', 'POST').status(405)
      .json({ error: 'method not allowed' });
  });
  app.use((req, res) => {
    res.status(404).json({ error: 'not found' });
  });

  // Express 5 passes errors of async middleware here: JSON.parse failing
  // on a correctly signed body that is not JSON, and body-parser's own
  // errors (413 for a body over the limit, 400 for a bad encoding).
  app.use((err, req, res, next) => {
    const status = err instanceof SyntaxError ? 400
      : Number.isInteger(err.status) && err.status >= 400 && err.status < 500
        ? err.status : 500;
    if (status === 500) {
      log('ERROR', `request failed: ${err.message}`);
    }
    res.status(status).json({ error: status === 500
      ? 'internal error' : 'malformed request' });
  });

  const server = app.listen(port, '0.0.0.0', () => {
    log('INFO', `listening on 0.0.0.0:${port}`);
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
}

main();
