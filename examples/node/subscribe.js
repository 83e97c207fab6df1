#!/usr/bin/env node
// Follows a municipality's Samplan events as a partner agency, and resumes after a crash.
//
//   node subscribe.js --address 127.0.0.1:50053 --token-file af.jwt \
//       --cursor-file af.cursor [--event-type caseplan.]
//
// Every option also reads an environment variable: SAMPLAN_EVENTS_ADDRESS,
// SAMPLAN_TOKEN_FILE, SAMPLAN_CURSOR_FILE, SAMPLAN_EVENT_TYPES (comma-separated),
// SAMPLAN_PURPOSE, SAMPLAN_PROTO_DIR, SAMPLAN_TLS_CA_FILE, SAMPLAN_TLS_CERT_FILE,
// SAMPLAN_TLS_KEY_FILE. With a CA file the connection is TLS, verified against that CA,
// presenting the client certificate when one is given (servers that require mutual
// TLS); the local start's are in .local/tls (source .local/tls/client.env). The .proto
// files are loaded at start; nothing is generated.
//
// Exit codes: 0 on Ctrl-C, 1 on an error the client cannot fix by reconnecting, 3 when
// the token is refused (get a fresh one and start again; the cursor is kept), 4 when the
// cursor is older than the server keeps (resynchronise, then start again; the cursor is
// deleted).
'use strict';

const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const { status } = grpc;
// Ended streams worth reconnecting to with the last stored cursor: nothing is lost.
const RETRY = new Set([status.UNAVAILABLE, status.CANCELLED, status.RESOURCE_EXHAUSTED,
  status.DEADLINE_EXCEEDED]);

function options() {
  const env = process.env;
  const { values } = parseArgs({
    options: {
      address: { type: 'string', default: env.SAMPLAN_EVENTS_ADDRESS || '127.0.0.1:50053' },
      'token-file': { type: 'string', default: env.SAMPLAN_TOKEN_FILE },
      'cursor-file': { type: 'string', default: env.SAMPLAN_CURSOR_FILE || 'samplan.cursor' },
      'event-type': { type: 'string', multiple: true },
      purpose: { type: 'string', default: env.SAMPLAN_PURPOSE || 'coordination' },
      tls: { type: 'boolean', default: false },
      'ca-file': { type: 'string', default: env.SAMPLAN_TLS_CA_FILE },
      'cert-file': { type: 'string', default: env.SAMPLAN_TLS_CERT_FILE },
      'key-file': { type: 'string', default: env.SAMPLAN_TLS_KEY_FILE },
      // Samplan's published gRPC service config: round robin over the addresses,
      // calls that wait for a connection, and which calls are retried on UNAVAILABLE.
      'service-config': {
        type: 'string',
        default: env.SAMPLAN_SERVICE_CONFIG ||
          path.join(__dirname, '..', '..', 'docs', 'grpc_service_config.json'),
      },
      'proto-dir': {
        type: 'string',
        default: env.SAMPLAN_PROTO_DIR || path.join(__dirname, '..', '..', 'proto'),
      },
    },
  });
  if (!values['token-file']) fail(1, '--token-file (or SAMPLAN_TOKEN_FILE) is required');
  if (!values['cert-file'] !== !values['key-file']) fail(1, 'give --cert-file and --key-file together');
  if (!values['event-type']) {
    values['event-type'] = (env.SAMPLAN_EVENT_TYPES || '').split(',').filter(Boolean);
  }
  return values;
}

function fail(code, message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(code);
}

function readCursor(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if (err.code === 'ENOENT') return '';
    throw err;
  }
}

// Replaces the cursor file atomically: a crash leaves the old cursor or the new one.
function storeCursor(file, cursor) {
  const tmp = path.join(path.dirname(path.resolve(file)), `.cursor-${process.pid}`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, `${cursor}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

// What an integration would do with one event; here, print it. An event only names what
// changed: fetch the record through its service (for a plan, CasePlanService.GetPlan),
// which checks consent again. If the process dies after this but before the cursor is
// stored, the event comes again: keep this idempotent.
function processEvent(delivered) {
  if (delivered.consent_withdrawn) {
    const n = delivered.consent_withdrawn;
    console.log(`${delivered.position} consent.withdrawn ${n.person} consent=${n.consent} ` +
      `categories=${n.data_categories.join(',')}: nothing more about this person will ` +
      'come under this consent; apply your rules on withdrawn consent');
    return;
  }
  const e = delivered.event;
  console.log(`${delivered.position} ${e.type} ${e.aggregate} v${e.aggregate_version}`);
}

function main() {
  const opts = options();
  const definition = protoLoader.loadSync('samplan/events/v1/event_service.proto', {
    includeDirs: [opts['proto-dir']],
    longs: String, // int64 as text: aggregate_version prints exactly
    enums: String,
    defaults: true,
    oneofs: true,
    keepCase: true, // field names as in the .proto
  });
  const { EventService } = grpc.loadPackageDefinition(definition).samplan.events.v1;
  // TLS from the CA and client certificate files, or plaintext without them.
  const read = (file) => (file ? fs.readFileSync(file) : null);
  const credentials = opts['ca-file'] || opts.tls
    ? grpc.credentials.createSsl(read(opts['ca-file']), read(opts['key-file']),
      read(opts['cert-file']))
    : grpc.credentials.createInsecure();
  let backoff = 1000;
  const channelOptions = {
    'grpc.service_config': fs.readFileSync(opts['service-config'], 'utf8'),
  };

  const connect = () => {
    const token = fs.readFileSync(opts['token-file'], 'utf8').trim();
    const client = new EventService(opts.address, credentials, channelOptions);
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const call = client.subscribe({
      event_types: opts['event-type'],
      cursor: readCursor(opts['cursor-file']),
      purpose: opts.purpose,
      heartbeat_interval: { seconds: 15 },
    }, metadata);

    call.on('data', (response) => {
      for (const delivered of response.events) processEvent(delivered);
      // The contract: store the cursor once the message is processed.
      storeCursor(opts['cursor-file'], response.cursor);
      backoff = 1000;
    });
    call.on('error', (err) => {
      client.close();
      ended(err.code, err.details, token);
    });
    call.on('end', () => client.close()); // after OK; 'status' follows in every case
    call.on('status', (s) => {
      if (s.code === status.OK) ended(status.UNAVAILABLE, 'the server ended the stream', token);
    });
  };

  const ended = (code, details, token) => {
    const name = Object.keys(status).find((k) => status[k] === code) || String(code);
    if (code === status.OUT_OF_RANGE) {
      // Resubscribing without a cursor would silently skip what was lost, so stop: the
      // integration must resynchronise first.
      fs.rmSync(opts['cursor-file'], { force: true });
      fail(4, `OUT_OF_RANGE: ${details}. The stale cursor ${opts['cursor-file']} has been ` +
        'deleted: resynchronise, then start again.');
    }
    if (code === status.UNAUTHENTICATED) {
      if (fs.readFileSync(opts['token-file'], 'utf8').trim() !== token) {
        process.stderr.write('token renewed; reconnecting\n');
        connect();
        return;
      }
      fail(3, `the token in ${opts['token-file']} was refused (${details}). Put a fresh ` +
        'token there and start again; the cursor is kept.');
    }
    if (!RETRY.has(code)) fail(1, `${name}: ${details}`);
    const wait = backoff * (0.5 + Math.random() / 2);
    process.stderr.write(`stream ended (${name}: ${details}); reconnecting in ` +
      `${(wait / 1000).toFixed(1)}s\n`);
    setTimeout(connect, wait);
    backoff = Math.min(backoff * 2, 30000);
  };

  process.on('SIGINT', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  connect();
}

main();
