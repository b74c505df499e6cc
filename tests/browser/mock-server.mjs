// A stand-in for the Switchboard API, for working on the agent panel (server/web/) without
// the server, and for checking ccp.mjs itself:
//
//   node tests/browser/mock-server.mjs [port]          # then open http://127.0.0.1:PORT/
//   node tests/browser/ccp.mjs http://127.0.0.1:PORT/ /tmp/shots --mock --with-transfers
//
// It serves the real server/web files and answers the /api/v1 contract in memory, with the
// WebSocket /api/v1/events pushing snapshots (and the floor to users with AccessMetrics).
// POST /__mock/incoming offers alice a call (what a caller pressing 2 does on the real
// server; `?record=0` for a contact whose flow does not record, `&answer=1` to have her phone
// pick up at once); POST /__mock/end-call ends alice's call as her phone would. Every quick
// connect adds a third party while the customer holds (as on the real server).
// maria (CallCenterManager) sees the floor and can listen in, barge and whisper. It is not
// the server: the real browser tests (tests/tests/browser*.rs) run the real binary.
import { createServer } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, '..', '..', 'server', 'web');
const CSP = "default-src 'self'; connect-src 'self' ws: wss:";

const USERS = {
  alice: {
    password: 'demo-alice', display_name: 'Alice Anders', phone: 'softphone', country: 'US',
    permissions: ['BasicAgentAccess', 'OutboundCallAccess', 'TransferDestinations.View'],
    acw: 30_000,
  },
  dave: {
    password: 'demo-dave', display_name: 'Dave Dalton', phone: 'desk_phone', country: 'US',
    permissions: ['BasicAgentAccess'], acw: 30_000,
  },
  maria: {
    password: 'demo-maria', display_name: 'Maria Moreno', phone: 'softphone', country: 'US',
    permissions: ['BasicAgentAccess', 'ManagerListenIn', 'ManagerBargeIn', 'ManagerWhisper', 'AccessMetrics', 'ListenCallRecordings'],
    acw: 0,
  },
};
const QUEUES = ['Support', 'Sales'];
const PROFILES = { alice: 'Support and Sales', dave: 'Support only', maria: null };
const today = { Support: { handled: 0, abandoned: 0, within20: 0, within60: 0, handleSum: 0, handleCount: 0 }, Sales: { handled: 0, abandoned: 0, within20: 0, within60: 0, handleSum: 0, handleCount: 0 } };
let monitor = null; // { manager, contact, mode }
const waiting = []; // callers in a queue: { queue, since, record }
const STATUSES = [
  { name: 'Available', routable: true }, { name: 'Offline', routable: false },
  { name: 'Break', routable: false }, { name: 'Lunch', routable: false },
];
const QUICK_CONNECTS = [
  { name: 'Bob', type: 'agent', target: 'bob' },
  { name: 'Sales queue', type: 'queue', target: 'Sales' },
  { name: 'Front desk', type: 'external', target: '+15550199' },
];

const sessions = new Map(); // token -> username
const agents = new Map(); // username -> agent
const sockets = new Set(); // { username, socket }
let failures = [];

function agent(username) {
  if (!agents.has(username)) {
    const u = USERS[username];
    agents.set(username, {
      username, display_name: u.display_name, status: 'Offline', system: null,
      since: Date.now(), contacts: [], user: u,
    });
  }
  return agents.get(username);
}

function snapshot(a) {
  return {
    username: a.username,
    display_name: a.display_name,
    status: a.status,
    state: a.system || a.status,
    state_since_unix_ms: a.since,
    statuses: STATUSES,
    phone: a.user.phone,
    phone_reachable: true,
    auto_accept: false,
    contacts: a.contacts.map((c) => ({ ...c, connections: c.connections.map((x) => ({ ...x })) })),
  };
}

function setState(a, system) {
  if (a.system !== system) {
    a.system = system;
    a.since = Date.now();
  }
}

function systemFromContacts(a) {
  const c = a.contacts[0];
  if (!c) return a.missed ? 'Missed' : null;
  return { incoming: 'Incoming', connecting: 'Busy', connected: 'Busy', ended: 'AfterContactWork' }[c.state] || null;
}

function publish(a) {
  if (monitor && monitor.manager === a.username) {
    setState(a, 'Monitoring');
  } else {
    setState(a, systemFromContacts(a));
  }
  const msg = JSON.stringify({ type: 'snapshot', agent: snapshot(a) });
  for (const s of sockets) if (s.username === a.username) wsSend(s.socket, msg);
  publishFloor();
}

function floor() {
  for (const name of Object.keys(USERS)) agent(name);
  const list = [...agents.values()];
  const queues = QUEUES.map((name) => {
    const serving = list.filter((a) => a.username !== 'maria');
    const t = today[name];
    const queued = waiting.filter((w) => w.queue === name);
    return {
      name,
      contacts_in_queue: queued.length,
      oldest_contact_age_ms: queued.length ? Date.now() - Math.min(...queued.map((w) => w.since)) : null,
      agents_online: serving.filter((a) => a.status !== 'Offline').length,
      agents_staffed: serving.filter((a) => a.status !== 'Offline').length,
      agents_available: serving.filter((a) => a.status === 'Available' && !a.system).length,
      agents_on_contact: serving.filter((a) => a.system === 'Busy' || a.system === 'Incoming').length,
      agents_in_acw: serving.filter((a) => a.system === 'AfterContactWork').length,
      agents_missed: serving.filter((a) => a.system === 'Missed').length,
      handled_today: t.handled,
      abandoned_today: t.abandoned,
      answered_within_20s_today: t.within20,
      answered_within_60s_today: t.within60,
      average_handle_time_ms: t.handleCount ? Math.round(t.handleSum / t.handleCount) : null,
    };
  });
  const rows = list.map((a) => {
    const c = monitor && monitor.manager === a.username
      ? findContact(monitor.contact)?.c : a.contacts[0];
    return {
      username: a.username,
      display_name: a.display_name,
      routing_profile: PROFILES[a.username] ?? null,
      state: a.system || a.status,
      state_since_unix_ms: a.since,
      contact: c ? c.id : null,
      queue: c ? c.queue : null,
      listen_in_allowed: a.system === 'Busy' && Boolean(c && c.state === 'connected' && c.record),
    };
  });
  return { at_unix_ms: Date.now(), queues, agents: rows, monitoring_sessions: monitor ? 1 : 0 };
}

function publishFloor() {
  const msg = JSON.stringify({ type: 'floor', floor: floor() });
  for (const s of sockets) {
    if (USERS[s.username].permissions.includes('AccessMetrics')) wsSend(s.socket, msg);
  }
}

function findContact(id) {
  for (const a of agents.values()) {
    const c = a.contacts.find((x) => x.id === id);
    if (c) return { a, c };
  }
  return null;
}

// The monitored contact ended (or was handed over): the manager's leg is hung up.
function endMonitoringOf(c) {
  if (monitor && monitor.contact === c.id) {
    const m = agent(monitor.manager);
    monitor = null;
    m.contacts = [];
    publish(m);
  }
}

function conn(kind, endpoint, st) {
  return { kind, endpoint, state: st, state_since_unix_ms: Date.now() };
}

function setConn(c, kind, st) {
  const x = c.connections.find((y) => y.kind === kind);
  if (x && x.state !== st) {
    x.state = st;
    x.state_since_unix_ms = Date.now();
  }
}

// After contact work is over: the handle time (talk and ACW) counts.
function clearContact(c) {
  const t = today[c.queue];
  if (t && typeof c.talk_ms === 'number') {
    t.handleSum += c.talk_ms + (Date.now() - c.state_since_unix_ms);
    t.handleCount += 1;
  }
}

function endContact(a, c) {
  endMonitoringOf(c);
  if (c.queue && today[c.queue] && c.answered_at) {
    const t = today[c.queue];
    t.handled += 1;
    t.within20 += 1;
    t.within60 += 1;
    c.talk_ms = Date.now() - c.answered_at;
  }
  c.state = 'ended';
  c.state_since_unix_ms = Date.now();
  c.acw_until_unix_ms = Date.now() + a.user.acw;
  c.connections = [];
}

class HttpError extends Error {
  constructor(status, message, extra = {}) {
    super(message);
    this.status = status;
    this.extra = extra;
  }
}

function formatNumber(number, country) {
  const digits = number.replace(/[\s().-]/g, '');
  if (/^\+[1-9]\d{6,14}$/.test(digits)) return digits;
  if (/^00[1-9]\d{6,14}$/.test(digits)) return `+${digits.slice(2)}`;
  if ((country === 'US' || country === 'CA') && /^1?[2-9]\d{9}$/.test(digits)) {
    return `+1${digits.slice(-10)}`;
  }
  if (country === 'GB' && /^0[1-9]\d{8,9}$/.test(digits)) return `+44${digits.slice(1)}`;
  if (country === 'DE' && /^0[1-9]\d{5,13}$/.test(digits)) return `+49${digits.slice(1)}`;
  throw new HttpError(422, `"${number}" is not a valid phone number in ${country}`);
}

function route(method, path, body, user) {
  const a = agent(user);
  const contactOf = (id) => {
    const c = a.contacts.find((x) => x.id === id);
    if (!c) throw new HttpError(404, 'No such contact');
    return c;
  };
  let m;
  if (method === 'GET' && path === '/agent') return snapshot(a);
  if (method === 'GET' && path === '/floor') {
    if (!a.user.permissions.includes('AccessMetrics')) {
      throw new HttpError(403, 'this needs the AccessMetrics permission', { permission: 'AccessMetrics' });
    }
    return floor();
  }
  if (path === '/monitor' || path === '/monitor/mode') {
    const need = (p) => {
      if (!a.user.permissions.includes(p)) throw new HttpError(403, `this needs the ${p} permission`, { permission: p });
    };
    need('ManagerListenIn');
    const modePerm = { listen: 'ManagerListenIn', barge: 'ManagerBargeIn', whisper: 'ManagerWhisper' };
    if (method === 'POST' && path === '/monitor') {
      const mode = body.mode || 'listen';
      if (!modePerm[mode]) throw new HttpError(422, `no mode "${mode}"`);
      need(modePerm[mode]);
      const found = findContact(String(body.contact || ''));
      if (!found || found.a === a) throw new HttpError(404, `no contact ${body.contact}`);
      if (found.c.state !== 'connected') throw new HttpError(409, 'the contact is not connected to an agent');
      if (!found.c.record) {
        throw new HttpError(409, 'listen-in is only possible on contacts whose flow records agent and customer (set_recording_behavior: both)');
      }
      if (a.system || monitor) throw new HttpError(409, 'you are busy: finish what you are doing first');
      monitor = { manager: a.username, contact: found.c.id, mode };
      a.contacts = [{ ...found.c, connections: found.c.connections.filter((x) => x.kind === 'customer') }];
      publish(a);
      return snapshot(a);
    }
    if (method === 'PUT' && path === '/monitor/mode') {
      if (!modePerm[body.mode]) throw new HttpError(422, `no mode "${body.mode}"`);
      need(modePerm[body.mode]);
      if (!monitor || monitor.manager !== a.username) throw new HttpError(409, 'you are not monitoring');
      monitor.mode = body.mode;
      return snapshot(a);
    }
    if (method === 'DELETE' && path === '/monitor') {
      if (!monitor || monitor.manager !== a.username) throw new HttpError(409, 'you are not monitoring');
      monitor = null;
      a.contacts = [];
      publish(a);
      return snapshot(a);
    }
  }
  if (method === 'PUT' && path === '/agent/status') {
    if (!STATUSES.some((s) => s.name === body.status)) throw new HttpError(422, `Unknown status "${body.status}"`);
    a.status = body.status;
    a.missed = false;
    a.since = Date.now();
    publish(a);
    return snapshot(a);
  }
  if (method === 'POST' && path === '/agent/clear-missed') {
    if (!a.missed) throw new HttpError(409, 'You are not in the Missed state');
    a.missed = false;
    a.contacts = a.contacts.filter((c) => c.state !== 'missed');
    a.since = Date.now();
    publish(a);
    return snapshot(a);
  }
  if (method === 'GET' && path === '/quick-connects') {
    if (!a.user.permissions.includes('TransferDestinations.View')) {
      throw new HttpError(403, 'You may not use quick connects', { permission: 'TransferDestinations.View' });
    }
    return QUICK_CONNECTS;
  }
  if (method === 'POST' && path === '/calls') {
    if (!a.user.permissions.includes('OutboundCallAccess')) {
      throw new HttpError(403, 'You may not make outbound calls', { permission: 'OutboundCallAccess' });
    }
    const e164 = formatNumber(String(body.number || ''), a.user.country);
    const c = {
      id: randomUUID(), state: 'connecting', initiation: 'outbound', queue: 'Support', customer: e164,
      state_since_unix_ms: Date.now(), acw_until_unix_ms: null, connections: [conn('customer', e164, 'connecting')],
    };
    a.contacts.push(c);
    publish(a);
    setTimeout(() => {
      c.state = 'connected';
      c.state_since_unix_ms = Date.now();
      setConn(c, 'customer', 'connected');
      publish(a);
    }, 1500);
    return snapshot(a);
  }
  if ((m = /^\/contacts\/([^/]+)\/(accept|reject|clear|join|swap|hold-all|leave|transfer)$/.exec(path)) && method === 'POST') {
    const c = contactOf(m[1]);
    const action = m[2];
    const third = c.connections.find((x) => x.kind === 'third_party');
    switch (action) {
      case 'accept':
        if (c.state !== 'incoming') throw new HttpError(409, 'The contact is not ringing');
        if (a.user.phone === 'desk_phone') throw new HttpError(409, 'Pick up your desk phone to answer');
        c.state = 'connecting';
        c.state_since_unix_ms = Date.now();
        setTimeout(() => {
          c.state = 'connected';
          c.state_since_unix_ms = Date.now();
          c.answered_at = Date.now();
          setConn(c, 'customer', 'connected');
          publish(a);
        }, 700);
        break;
      case 'reject':
        if (c.state !== 'incoming') throw new HttpError(409, 'The contact is not ringing');
        a.contacts = a.contacts.filter((x) => x !== c);
        a.missed = true;
        break;
      case 'clear':
        if (c.state !== 'ended' && c.state !== 'error') throw new HttpError(409, 'The contact is not in after contact work');
        clearContact(c);
        a.contacts = a.contacts.filter((x) => x !== c);
        break;
      case 'transfer': {
        if (c.state !== 'connected') throw new HttpError(409, 'The contact is not connected');
        if (third) throw new HttpError(409, 'There is already a third party');
        let endpoint;
        if (body.quick_connect) {
          const q = QUICK_CONNECTS.find((x) => x.name === body.quick_connect);
          if (!q) throw new HttpError(404, `No quick connect "${body.quick_connect}"`);
          // Queue and agent quick connects: the queue's (or the named) agent answers.
          endpoint = q.target;
        } else {
          endpoint = formatNumber(String(body.number || ''), a.user.country);
        }
        setConn(c, 'customer', 'hold');
        c.connections.push(conn('third_party', endpoint, 'connecting'));
        setTimeout(() => { setConn(c, 'third_party', 'connected'); publish(a); }, 1200);
        break;
      }
      case 'join':
        if (!third) throw new HttpError(409, 'There is no third party to join');
        setConn(c, 'customer', 'connected');
        setConn(c, 'third_party', 'connected');
        break;
      case 'swap': {
        if (!third) throw new HttpError(409, 'There is no third party to swap with');
        const cust = c.connections.find((x) => x.kind === 'customer');
        // Talk to whoever is on hold (the customer if both are alike); the other waits.
        const toCustomer = cust.state === 'hold' || third.state !== 'hold';
        setConn(c, 'customer', toCustomer ? 'connected' : 'hold');
        setConn(c, 'third_party', toCustomer ? 'hold' : 'connected');
        break;
      }
      case 'hold-all':
        if (!third) throw new HttpError(409, 'There is no third party');
        setConn(c, 'customer', 'hold');
        setConn(c, 'third_party', 'hold');
        break;
      case 'leave':
        if (!third) throw new HttpError(409, 'There is no third party to leave with');
        endContact(a, c);
        break;
      default:
        break;
    }
    publish(a);
    return snapshot(a);
  }
  if ((m = /^\/contacts\/([^/]+)\/connections\/(customer|third_party)\/(hold|resume|end)$/.exec(path)) && method === 'POST') {
    const c = contactOf(m[1]);
    const x = c.connections.find((y) => y.kind === m[2]);
    if (!x || x.state === 'disconnected') throw new HttpError(404, `There is no ${m[2].replace('_', ' ')} connection`);
    if (m[3] === 'hold') {
      if (x.state !== 'connected') throw new HttpError(409, 'Only a connected party can be put on hold');
      setConn(c, m[2], 'hold');
    } else if (m[3] === 'resume') {
      if (x.state !== 'hold') throw new HttpError(409, 'That party is not on hold');
      setConn(c, m[2], 'connected');
    } else if (m[2] === 'customer') {
      endContact(a, c);
    } else {
      c.connections = c.connections.filter((y) => y !== x);
    }
    publish(a);
    return snapshot(a);
  }
  throw new HttpError(404, `No route ${method} ${path}`);
}

function cookieToken(req) {
  const m = /(?:^|;\s*)sb_session=([^;]+)/.exec(req.headers.cookie || '');
  return m ? m[1] : null;
}

function userOf(req) {
  const auth = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  const token = auth ? auth[1] : cookieToken(req);
  return token ? sessions.get(token) : undefined;
}

function publicUser(name) {
  const u = USERS[name];
  return { username: name, display_name: u.display_name, permissions: u.permissions, phone: u.phone, country: u.country };
}

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Security-Policy': CSP, ...headers });
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  try { return JSON.parse(text); } catch { throw new HttpError(400, 'The body is not JSON'); }
}

const STATIC = { '/': ['index.html', 'text/html'], '/app.js': ['app.js', 'text/javascript'], '/app.css': ['app.css', 'text/css'] };

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  try {
    if (req.method === 'GET' && STATIC[url.pathname]) {
      const [file, type] = STATIC[url.pathname];
      res.writeHead(200, { 'Content-Type': `${type}; charset=utf-8`, 'Content-Security-Policy': CSP, 'Cache-Control': 'no-store' });
      res.end(readFileSync(join(web, file)));
      return;
    }
    if (req.method === 'POST' && url.pathname === '/__mock/incoming') {
      const a = agent(url.searchParams.get('agent') || 'alice');
      if (url.searchParams.get('available') === '1' && !a.contacts.length) a.status = 'Available';
      if (a.status !== 'Available' || a.contacts.length) return send(res, 409, { error: 'alice is not available' });
      const queued = waiting.shift();
      const c = {
        id: randomUUID(), state: 'incoming', initiation: 'inbound', queue: queued ? queued.queue : url.searchParams.get('queue') || 'Support', customer: '+15551230000',
        state_since_unix_ms: Date.now(), acw_until_unix_ms: null, connections: [conn('customer', '+15551230000', 'connecting')],
      };
      const record = queued ? queued.record : url.searchParams.get('record') !== '0';
      Object.defineProperty(c, 'record', { value: record, enumerable: false });
      a.contacts.push(c);
      if (url.searchParams.get('answer') === '1') {
        c.state = 'connected';
        c.answered_at = Date.now();
        setConn(c, 'customer', 'connected');
      }
      publish(a);
      return send(res, 204);
    }
    if (req.method === 'POST' && url.pathname === '/__mock/enqueue') {
      waiting.push({ queue: url.searchParams.get('queue') || 'Support', since: Date.now(), record: url.searchParams.get('record') !== '0' });
      publishFloor();
      return send(res, 204);
    }
    if (req.method === 'POST' && url.pathname === '/__mock/clear-acw') {
      const a = agent(url.searchParams.get('agent') || 'alice');
      for (const c of a.contacts.filter((x) => x.state === 'ended')) clearContact(c);
      a.contacts = a.contacts.filter((x) => x.state !== 'ended');
      publish(a);
      return send(res, 204);
    }
    if (req.method === 'POST' && url.pathname === '/__mock/end-call') {
      const a = agent(url.searchParams.get('agent') || 'alice');
      const c = a.contacts.find((x) => x.state === 'connected');
      if (!c) return send(res, 409, { error: 'no call to end' });
      endContact(a, c);
      publish(a);
      return send(res, 204);
    }
    if (!url.pathname.startsWith('/api/v1/')) return send(res, 404, { error: 'not found' });
    const path = url.pathname.slice('/api/v1'.length);
    const body = ['POST', 'PUT'].includes(req.method) ? await readBody(req) : {};
    if (req.method === 'POST' && path === '/login') {
      const now = Date.now();
      failures = failures.filter((t) => now - t < 60_000);
      if (failures.length >= 5) {
        const wait = Math.ceil((failures[0] + 60_000 - now) / 1000);
        return send(res, 429, { error: `Too many failed log-ins: try again in ${wait} s` }, { 'Retry-After': String(wait) });
      }
      const u = USERS[body.username];
      if (!u || u.password !== body.password) {
        failures.push(now);
        return send(res, 401, { error: 'wrong user name or password' });
      }
      if (!u.permissions.includes('BasicAgentAccess')) {
        return send(res, 403, { error: 'This user may not use the agent panel', permission: 'BasicAgentAccess' });
      }
      const token = randomUUID();
      sessions.set(token, body.username);
      return send(res, 200, { token, expires_unix_ms: now + 8 * 3600_000, user: publicUser(body.username) },
        { 'Set-Cookie': `sb_session=${token}; HttpOnly; SameSite=Strict; Path=/` });
    }
    const user = userOf(req);
    if (!user) return send(res, 401, { error: 'Log in first' });
    if (req.method === 'POST' && path === '/logout') {
      sessions.delete(cookieToken(req));
      return send(res, 204, undefined, { 'Set-Cookie': 'sb_session=; Max-Age=0; Path=/' });
    }
    if (req.method === 'GET' && path === '/me') return send(res, 200, publicUser(user));
    if (req.method === 'GET' && path === '/numbers/format') {
      return send(res, 200, { e164: formatNumber(url.searchParams.get('number') || '', url.searchParams.get('country') || 'US') });
    }
    return send(res, 200, route(req.method, path, body, user));
  } catch (e) {
    if (e instanceof HttpError) return send(res, e.status, { error: e.message, ...e.extra });
    console.error(e);
    return send(res, 500, { error: 'mock server error' });
  }
});

// ---- a minimal WebSocket (RFC 6455) for /api/v1/events: text frames out, close in.

function wsSend(socket, text) {
  const payload = Buffer.from(text, 'utf8');
  let header;
  if (payload.length < 126) header = Buffer.from([0x81, payload.length]);
  else if (payload.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x81; header[1] = 126; header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x81; header[1] = 127; header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  socket.write(Buffer.concat([header, payload]));
}

server.on('upgrade', (req, socket) => {
  const url = new URL(req.url, 'http://x');
  const user = userOf(req);
  if (url.pathname !== '/api/v1/events' || !user) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  const entry = { username: user, socket };
  sockets.add(entry);
  wsSend(socket, JSON.stringify({ type: 'snapshot', agent: snapshot(agent(user)) }));
  if (USERS[user].permissions.includes('AccessMetrics')) {
    wsSend(socket, JSON.stringify({ type: 'floor', floor: floor() }));
  }
  socket.on('data', (buf) => {
    if ((buf[0] & 0x0f) === 0x8) {
      socket.end(Buffer.from([0x88, 0]));
    }
  });
  const drop = () => sockets.delete(entry);
  socket.on('close', drop);
  socket.on('error', drop);
});

const port = Number(process.argv[2] || 8089);
server.listen(port, '127.0.0.1', () => {
  console.log(`mock CCP API on http://127.0.0.1:${server.address().port}/`);
});
