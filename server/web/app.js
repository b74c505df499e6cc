// Switchboard CCP: the agent's Contact Control Panel, and for managers the real-time
// metrics of the floor beside it (with listen-in, barge and whisper).
//
// Plain JavaScript, no framework, nothing fetched from elsewhere (it runs under the CSP
// `default-src 'self'; connect-src 'self' ws: wss:`). The server is the source of truth:
// the page renders every AgentSnapshot pushed on the WebSocket /api/v1/events (a full one
// on each connect), and the snapshots that actions answer with; users with AccessMetrics
// also get the FloorSnapshot on the same socket (once on connect, then on every change).
// It never polls; the only clock it runs is the one that redraws the timers.
'use strict';

(() => {
  const API = '/api/v1';

  // ISO 3166-1 alpha-2, name, calling code: the dial pads' country selectors.
  const COUNTRIES = [
    ['US', 'United States', '+1'], ['CA', 'Canada', '+1'], ['MX', 'Mexico', '+52'],
    ['BR', 'Brazil', '+55'], ['AR', 'Argentina', '+54'], ['CL', 'Chile', '+56'],
    ['CO', 'Colombia', '+57'], ['PE', 'Peru', '+51'], ['GB', 'United Kingdom', '+44'],
    ['IE', 'Ireland', '+353'], ['FR', 'France', '+33'], ['DE', 'Germany', '+49'],
    ['ES', 'Spain', '+34'], ['PT', 'Portugal', '+351'], ['IT', 'Italy', '+39'],
    ['NL', 'Netherlands', '+31'], ['BE', 'Belgium', '+32'], ['LU', 'Luxembourg', '+352'],
    ['CH', 'Switzerland', '+41'], ['AT', 'Austria', '+43'], ['DK', 'Denmark', '+45'],
    ['SE', 'Sweden', '+46'], ['NO', 'Norway', '+47'], ['FI', 'Finland', '+358'],
    ['PL', 'Poland', '+48'], ['CZ', 'Czechia', '+420'], ['HU', 'Hungary', '+36'],
    ['RO', 'Romania', '+40'], ['GR', 'Greece', '+30'], ['TR', 'Türkiye', '+90'],
    ['IL', 'Israel', '+972'], ['AE', 'United Arab Emirates', '+971'],
    ['SA', 'Saudi Arabia', '+966'], ['EG', 'Egypt', '+20'], ['ZA', 'South Africa', '+27'],
    ['NG', 'Nigeria', '+234'], ['KE', 'Kenya', '+254'], ['IN', 'India', '+91'],
    ['PK', 'Pakistan', '+92'], ['SG', 'Singapore', '+65'], ['MY', 'Malaysia', '+60'],
    ['PH', 'Philippines', '+63'], ['ID', 'Indonesia', '+62'], ['TH', 'Thailand', '+66'],
    ['VN', 'Vietnam', '+84'], ['CN', 'China', '+86'], ['HK', 'Hong Kong', '+852'],
    ['TW', 'Taiwan', '+886'], ['JP', 'Japan', '+81'], ['KR', 'South Korea', '+82'],
    ['AU', 'Australia', '+61'], ['NZ', 'New Zealand', '+64'],
  ];

  // States the server sets on top of the chosen status.
  const SYSTEM_STATES = {
    Incoming: { label: 'Incoming', css: 'state-incoming' },
    Busy: { label: 'Busy', css: 'state-busy' },
    AfterContactWork: { label: 'After contact work', css: 'state-acw' },
    Missed: { label: 'Missed', css: 'state-missed' },
    Monitoring: { label: 'Monitoring', css: 'state-monitoring' },
  };

  const CONNECTION_STATES = {
    connecting: 'Connecting',
    connected: 'Connected',
    hold: 'On hold',
    disconnected: 'Disconnected',
  };

  const KIND_LABELS = { customer: 'Customer', third_party: 'Third party' };
  const QC_TYPES = { agent: 'Agent', queue: 'Queue', external: 'External' };
  // Agent and queue quick connects hand the customer over at once (the agent goes to after
  // contact work, the customer runs the transfer flow); external ones add a third party.

  // Monitoring modes: the permission each needs, and what it means.
  const MONITOR_MODES = [
    { mode: 'listen', label: 'Listen', permission: 'ManagerListenIn', help: 'Listening: you hear the agent and the customer; nobody hears you.' },
    { mode: 'barge', label: 'Barge', permission: 'ManagerBargeIn', help: 'Barge: the agent and the customer both hear you.' },
    { mode: 'whisper', label: 'Whisper', permission: 'ManagerWhisper', help: 'Whisper: only the agent hears you; the customer does not.' },
  ];
  const RECORDING_OFF = 'Recording is off for this contact, so listen-in is not possible';

  const $ = (id) => document.getElementById(id);

  const ui = {
    app: $('app'),
    loading: $('loading'),
    login: $('login'),
    loginForm: $('login-form'),
    loginUser: $('login-username'),
    loginPass: $('login-password'),
    loginError: $('login-error'),
    loginSubmit: $('login-submit'),
    panel: $('panel'),
    agentName: $('agent-name'),
    phoneLine: $('phone-line'),
    logout: $('logout'),
    stateBar: $('state-bar'),
    stateName: $('state-name'),
    stateTimer: $('state-timer'),
    statusSelect: $('status-select'),
    phoneWarning: $('phone-warning'),
    reconnecting: $('reconnecting'),
    errorBanner: $('error-banner'),
    errorText: $('error-text'),
    errorDismiss: $('error-dismiss'),
    contacts: $('contacts'),
    transfer: $('transfer'),
    transferClose: $('transfer-close'),
    qcBlock: $('quick-connects-block'),
    qcFilter: $('qc-filter'),
    qcList: $('quick-connects'),
    qcEmpty: $('qc-empty'),
    transferForm: $('transfer-form'),
    transferCountry: $('transfer-country'),
    transferNumber: $('transfer-number'),
    transferE164: $('transfer-e164'),
    dialer: $('dialer'),
    dialerToggle: $('dialer-toggle'),
    dialerBody: $('dialer-body'),
    dialForm: $('dial-form'),
    dialCountry: $('dial-country'),
    dialNumber: $('dial-number'),
    dialE164: $('dial-e164'),
    announce: $('announce'),
    announceUrgent: $('announce-urgent'),
    monitorNotice: $('monitor-notice'),
    monitorNoticeText: $('monitor-notice-text'),
    monitorNoticeDismiss: $('monitor-notice-dismiss'),
    floor: $('floor'),
    floorSessions: $('floor-sessions'),
    floorLive: $('floor-live'),
    floorLiveText: $('floor-live-text'),
    floorError: $('floor-error'),
    floorErrorText: $('floor-error-text'),
    floorErrorDismiss: $('floor-error-dismiss'),
    queuesBody: $('queues-body'),
    agentsBody: $('agents-body'),
    agentsListenCol: $('agents-listen-col'),
    floorQueues: $('floor-queues'),
    floorAgents: $('floor-agents'),
    recent: $('recent'),
    recentStatus: $('recent-status'),
    recentBody: $('recent-body'),
    recentRecCol: $('recent-rec-col'),
    recentPlayer: $('recent-player'),
    recentPlayerLabel: $('recent-player-label'),
    recentAudio: $('recent-audio'),
  };

  const state = {
    user: null,
    snap: null,
    // Server clock minus ours (from the Date header), so timers agree with the server.
    skew: 0,
    ws: null,
    wsWanted: false,
    wsSeq: 0,
    reconnectDelay: 0,
    reconnectTimer: null,
    transferFor: null,
    quickConnects: [],
    qcAllowed: true,
    inFlight: new Set(),
    notifications: new Map(),
    loginBlockedUntil: 0,
    loginTimer: null,
    // Keyboard focus waits on the status menu until the contact card has a button again.
    focusParked: false,
    // A transfer under way: {id, name}; contacts left with it (Leave): contact id -> name.
    transferPending: null,
    handedOver: new Map(),
    // The floor (managers), as last pushed.
    floor: null,
    // The manager's monitoring session as this page started it: {contact, username,
    // agentName, mode} (the snapshot says Monitoring, not whom or how; kept across reloads).
    monitor: null,
    monitorEnding: false,
    focusMonitor: false,
    monitorSig: '',
    // After monitoring ended: {name, username, contact, byUser, callOver}.
    monitorEnded: null,
    // Recent contacts: the floor's handled/abandoned figures they were last loaded for, and
    // whether a load is running (and another is owed after it).
    recentSig: null,
    recentLoading: false,
    recentAgain: false,
    recentGen: 0,
  };

  // ---------------------------------------------------------------- helpers

  const now = () => Date.now() + state.skew;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, '0');
    return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
  }

  // A party as people read it: `"Customer" <sip:+15551230000@host>` is +15551230000
  // (Customer); a bare number or name stays as it is.
  function party(raw) {
    if (!raw) return { main: 'Unknown caller', detail: '' };
    const m = /^\s*(?:"([^"]*)"|([^<]*?))\s*<\s*(?:sips?:|tel:)?([^@;>]+)[^>]*>/.exec(raw)
      || /^\s*()()(?:sips?:|tel:)([^@;>]+)/.exec(raw);
    if (!m) return { main: raw, detail: '' };
    const name = (m[1] || m[2] || '').trim();
    const user = decodeURIComponent(m[3]);
    return { main: user, detail: name && name !== user ? name : '' };
  }

  function callerEl(raw) {
    const p = party(raw);
    return el('p', { class: 'contact-caller' }, p.main,
      p.detail ? el('span', { class: 'contact-caller-name', text: p.detail }) : null);
  }

  function partyText(raw) {
    const p = party(raw);
    return p.detail ? `${p.main} (${p.detail})` : p.main;
  }

  function stateInfo(name) {
    if (SYSTEM_STATES[name]) return SYSTEM_STATES[name];
    const status = state.snap && state.snap.statuses.find((s) => s.name === name);
    const routable = status ? status.routable : name === 'Available';
    return { label: name, css: routable ? 'state-available' : 'state-offline' };
  }

  // Announces `text` to screen readers (the same text twice is announced twice).
  function announce(text, urgent) {
    if (!text) return;
    const region = urgent ? ui.announceUrgent : ui.announce;
    region.textContent = '';
    window.setTimeout(() => { region.textContent = text; }, 60);
  }

  // ---------------------------------------------------------------- the API

  class ApiError extends Error {
    constructor(status, message, permission, retryAfter) {
      super(message);
      this.status = status;
      this.permission = permission;
      this.retryAfter = retryAfter;
    }
  }

  const STATUS_WORDS = {
    400: 'The server did not understand the request.',
    401: 'You are not logged in.',
    403: 'You do not have permission to do that.',
    404: 'That contact or connection no longer exists.',
    409: 'That is not possible right now.',
    422: 'That input is not valid.',
    429: 'Too many attempts. Wait a moment and try again.',
    500: 'The server had a problem. Try again.',
    503: 'The server cannot do that right now. Try again in a moment.',
  };

  // Calls the API; resolves to the JSON body (or null), rejects with an ApiError in plain
  // words. A 401 outside log-in means the session is over: back to the log-in form.
  async function api(method, path, body, opts = {}) {
    const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(API + path, init);
    } catch (e) {
      throw new ApiError(0, 'The server cannot be reached. Check your connection and try again.');
    }
    const date = res.headers.get('Date');
    if (date) {
      const server = Date.parse(date) + 500;
      if (!Number.isNaN(server)) {
        const skew = server - Date.now();
        state.skew = Math.abs(skew) > 2000 ? skew : 0;
      }
    }
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (res.ok) return data;
    const retry = Number.parseInt(res.headers.get('Retry-After') || '', 10);
    const message = (data && typeof data.error === 'string' && data.error)
      || STATUS_WORDS[res.status] || `The request failed (HTTP ${res.status}).`;
    const err = new ApiError(res.status, message, data && data.permission,
      Number.isNaN(retry) ? null : retry);
    if (res.status === 401 && !opts.login && state.user) sessionEnded();
    throw err;
  }

  function isSnapshot(d) {
    return d && typeof d === 'object' && typeof d.state === 'string' && Array.isArray(d.contacts);
  }

  // Runs one panel action. `key` marks the buttons to disable while it runs.
  async function act(key, method, path, body, onDone) {
    if (state.inFlight.has(key)) return null;
    state.inFlight.add(key);
    if (state.snap) renderStatuses(state.snap);
    renderContacts();
    const seq = state.wsSeq;
    try {
      const data = await api(method, path, body);
      hideError();
      // The WebSocket is the source of truth: an answer older than its last message is
      // not drawn over it.
      if (isSnapshot(data) && (state.wsSeq === seq || !state.ws)) render(data);
      if (onDone) onDone(data);
      return data;
    } catch (e) {
      if (e.status !== 401) showError(e);
      return null;
    } finally {
      state.inFlight.delete(key);
      if (state.snap && !ui.panel.hidden) renderStatuses(state.snap);
      renderContacts();
    }
  }

  // ---------------------------------------------------------------- errors

  // Server messages are lower-case phrases ("the number is too short"): shown as sentences.
  function sentence(text) {
    const t = String(text || '').trim();
    return t ? t[0].toUpperCase() + t.slice(1) : t;
  }

  function showError(err) {
    let text = sentence(err.message || String(err));
    if (err.permission && !text.includes(err.permission)) {
      text += ` (needs the ${err.permission} permission)`;
    }
    ui.errorText.textContent = text;
    ui.errorBanner.hidden = false;
  }

  function hideError() {
    ui.errorBanner.hidden = true;
    ui.errorText.textContent = '';
  }

  ui.errorDismiss.addEventListener('click', () => {
    hideError();
    const first = ui.panel.querySelector('button:not([disabled]), select');
    if (first) first.focus();
  });

  // ---------------------------------------------------------------- ring and notifications

  const ring = {
    ctx: null,
    timer: null,
    nodes: [],
    unlock() {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!this.ctx && Ctx) {
        try { this.ctx = new Ctx(); } catch (e) { this.ctx = null; }
      }
      if (this.ctx && this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
    },
    // One ring: two short bursts of a soft 400 + 450 Hz chord.
    burst() {
      const ctx = this.ctx;
      if (!ctx || ctx.state !== 'running') return;
      const t0 = ctx.currentTime + 0.02;
      const gain = ctx.createGain();
      gain.gain.setValueAtTime(0, t0);
      for (const start of [0, 0.6]) {
        gain.gain.linearRampToValueAtTime(0.07, t0 + start + 0.03);
        gain.gain.setValueAtTime(0.07, t0 + start + 0.37);
        gain.gain.linearRampToValueAtTime(0, t0 + start + 0.4);
      }
      gain.connect(ctx.destination);
      for (const f of [400, 450]) {
        const osc = ctx.createOscillator();
        osc.type = 'sine';
        osc.frequency.value = f;
        osc.connect(gain);
        osc.start(t0);
        osc.stop(t0 + 1.05);
        this.nodes.push(osc);
        osc.onended = () => { this.nodes = this.nodes.filter((n) => n !== osc); };
      }
    },
    start() {
      if (this.timer) return;
      this.unlock();
      this.burst();
      this.timer = window.setInterval(() => this.burst(), 3000);
    },
    stop() {
      if (this.timer) window.clearInterval(this.timer);
      this.timer = null;
      for (const n of this.nodes) {
        try { n.stop(); } catch (e) { /* already stopped */ }
      }
      this.nodes = [];
    },
  };

  function askNotificationPermission() {
    if ('Notification' in window && Notification.permission === 'default') {
      try { Notification.requestPermission().catch(() => {}); } catch (e) { /* old API */ }
    }
  }

  function notifyIncoming(contact) {
    if (!('Notification' in window) || Notification.permission !== 'granted') return;
    if (state.notifications.has(contact.id)) return;
    try {
      const n = new Notification('Incoming call', {
        body: [partyText(contact.customer), contact.queue].filter(Boolean).join(' · '),
        tag: `contact-${contact.id}`,
        requireInteraction: true,
      });
      n.onclick = () => { window.focus(); n.close(); };
      state.notifications.set(contact.id, n);
    } catch (e) { /* notifications not available here */ }
  }

  function closeNotifications(keepIds) {
    for (const [id, n] of state.notifications) {
      if (!keepIds.has(id)) {
        try { n.close(); } catch (e) { /* gone */ }
        state.notifications.delete(id);
      }
    }
  }

  // ---------------------------------------------------------------- screens

  function showScreen(name) {
    ui.loading.hidden = name !== 'loading';
    ui.login.hidden = name !== 'login';
    ui.panel.hidden = name !== 'panel';
    const metrics = name === 'panel' && hasPermission('AccessMetrics');
    const recent = name === 'panel' && (metrics || hasPermission('ContactSearch'));
    const floor = metrics || recent;
    ui.floor.hidden = !floor;
    ui.floorQueues.hidden = !metrics;
    ui.floorAgents.hidden = !metrics;
    ui.floorSessions.hidden = !metrics;
    ui.floorLive.hidden = !metrics;
    ui.recent.hidden = !recent;
    ui.app.classList.toggle('with-floor', floor);
  }

  function showLogin(message) {
    stopEvents();
    ring.stop();
    closeNotifications(new Set());
    state.user = null;
    state.snap = null;
    state.transferFor = null;
    state.transferPending = null;
    state.handedOver.clear();
    state.floor = null;
    state.monitor = null;
    saveMonitor();
    state.monitorEnded = null;
    state.monitorEnding = false;
    hideError();
    hideFloorError();
    ui.monitorNotice.hidden = true;
    ui.queuesBody.replaceChildren();
    ui.agentsBody.replaceChildren();
    resetRecent();
    showScreen('login');
    document.title = 'Log in · Switchboard CCP';
    ui.loginPass.value = '';
    setLoginError(message || '');
    ui.loginSubmit.disabled = false;
    (ui.loginUser.value ? ui.loginPass : ui.loginUser).focus();
  }

  function sessionEnded() {
    showLogin('Your session has ended. Log in again.');
  }

  function setLoginError(text) {
    ui.loginError.textContent = text;
    ui.loginError.hidden = !text;
    const bad = text ? 'true' : null;
    for (const input of [ui.loginUser, ui.loginPass]) {
      if (bad) input.setAttribute('aria-invalid', bad);
      else input.removeAttribute('aria-invalid');
    }
  }

  function blockLogin(seconds) {
    state.loginBlockedUntil = Date.now() + seconds * 1000;
    window.clearInterval(state.loginTimer);
    const tick = () => {
      const left = Math.ceil((state.loginBlockedUntil - Date.now()) / 1000);
      if (left <= 0) {
        window.clearInterval(state.loginTimer);
        state.loginTimer = null;
        ui.loginSubmit.disabled = false;
        setLoginError('');
        return;
      }
      ui.loginSubmit.disabled = true;
      // Said once by the alert; the seconds then count down without being re-announced.
      const count = ui.loginError.querySelector('.login-countdown');
      if (count) count.textContent = String(left);
      else {
        ui.loginError.replaceChildren('Too many attempts, try again in ',
          el('span', { class: 'login-countdown', 'aria-live': 'off', text: String(left) }), ' s');
      }
      ui.loginError.hidden = false;
    };
    tick();
    state.loginTimer = window.setInterval(tick, 1000);
  }

  ui.loginForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    // A click or Enter is a user gesture: the moment to allow sound and notifications.
    ring.unlock();
    askNotificationPermission();
    const username = ui.loginUser.value.trim();
    const password = ui.loginPass.value;
    if (!username || !password) {
      setLoginError('Enter your user name and password.');
      (username ? ui.loginPass : ui.loginUser).focus();
      return;
    }
    ui.loginSubmit.disabled = true;
    ui.loginSubmit.textContent = 'Logging in…';
    try {
      const data = await api('POST', '/login', { username, password }, { login: true });
      ui.loginPass.value = '';
      setLoginError('');
      state.user = data.user;
      enterPanel();
    } catch (e) {
      if (e.status === 401) setLoginError('Wrong user name or password');
      else if (e.status === 429) blockLogin(e.retryAfter || retryFromText(e.message) || 60);
      else if (e.status === 403) setLoginError(sentence(e.message) || 'This user may not use the agent panel.');
      else setLoginError(sentence(e.message));
      if (e.status !== 429) ui.loginPass.focus();
    } finally {
      ui.loginSubmit.textContent = 'Log in';
      if (!state.loginTimer) ui.loginSubmit.disabled = false;
    }
  });

  function retryFromText(text) {
    const m = /(\d+)\s*s/.exec(text || '');
    return m ? Number(m[1]) : null;
  }

  ui.logout.addEventListener('click', async () => {
    stopEvents();
    try { await api('POST', '/logout', undefined, { login: true }); } catch (e) { /* gone */ }
    showLogin('');
    setLoginError('');
  });

  function enterPanel() {
    const user = state.user;
    showScreen('panel');
    ui.agentName.textContent = user.display_name || user.username;
    fillCountries(ui.dialCountry, user.country);
    fillCountries(ui.transferCountry, user.country);
    ui.dialer.hidden = true;
    ui.transfer.hidden = true;
    document.title = 'Switchboard CCP';
    state.monitor = loadMonitor();
    ui.agentsListenCol.hidden = !hasPermission('ManagerListenIn');
    if (!ui.floor.hidden && !state.floor) {
      ui.queuesBody.replaceChildren(emptyRow(13, 'Waiting for the first figures…'));
      ui.agentsBody.replaceChildren(emptyRow(agentColumns(), 'Waiting for the first figures…'));
      setFloorLive('waiting');
    }
    // Without the floor's figures (ContactSearch only), recent contacts load once here.
    if (!ui.recent.hidden && !hasPermission('AccessMetrics')) loadRecent();
    api('GET', '/agent').then((snap) => { if (isSnapshot(snap) && !state.snap) render(snap); })
      .catch((e) => { if (e.status !== 401) showError(e); });
    startEvents();
    ui.statusSelect.focus();
  }

  // ---------------------------------------------------------------- live events

  function startEvents() {
    state.wsWanted = true;
    window.clearTimeout(state.reconnectTimer);
    const url = `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}${API}/events`;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    ws.addEventListener('open', () => {
      if (state.ws !== ws) return;
      state.reconnectDelay = 0;
    });
    ws.addEventListener('message', (ev) => {
      if (state.ws !== ws) return;
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg && msg.type === 'snapshot' && isSnapshot(msg.agent)) {
        state.wsSeq += 1;
        setReconnecting(false);
        render(msg.agent);
      } else if (msg && msg.type === 'floor' && isFloor(msg.floor)) {
        state.floor = msg.floor;
        setFloorLive('live');
        renderFloor();
      }
    });
    ws.addEventListener('close', (ev) => {
      if (state.ws !== ws) return;
      state.ws = null;
      if (state.floor) setFloorLive('reconnecting');
      if (!state.wsWanted) return;
      // 4401: the session ended (log-out elsewhere, expiry); 4403: no panel access any more.
      if (ev.code === 4401) {
        sessionEnded();
        return;
      }
      if (ev.code === 4403) {
        showLogin('This user may no longer use the agent panel.');
        return;
      }
      setReconnecting(true);
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    window.clearTimeout(state.reconnectTimer);
    const base = state.reconnectDelay ? Math.min(state.reconnectDelay * 2, 15000) : 500;
    state.reconnectDelay = base;
    const delay = base + Math.floor(Math.random() * base * 0.3);
    state.reconnectTimer = window.setTimeout(async () => {
      if (!state.wsWanted) return;
      // A closed socket may be a session that ended: ask once before reconnecting.
      try {
        await api('GET', '/me');
      } catch (e) {
        if (e.status === 401) return; // api() has shown the log-in form
        if (state.wsWanted) scheduleReconnect();
        return;
      }
      if (state.wsWanted) startEvents();
    }, delay);
  }

  function stopEvents() {
    state.wsWanted = false;
    window.clearTimeout(state.reconnectTimer);
    const ws = state.ws;
    state.ws = null;
    if (ws) {
      try { ws.close(1000, 'log out'); } catch (e) { /* closed */ }
    }
    setReconnecting(false);
  }

  function setReconnecting(on) {
    ui.reconnecting.hidden = !on;
    if (on) announce('Connection lost. Reconnecting…');
  }

  // ---------------------------------------------------------------- rendering

  function liveContacts(snap) {
    return snap.contacts.filter((c) => ['incoming', 'connecting', 'connected'].includes(c.state));
  }

  function render(snap) {
    const prev = state.snap;
    state.snap = snap;
    if (ui.panel.hidden) return;
    noteHandover(snap);
    noteMonitoring(prev, snap);
    describeChanges(prev, snap);

    ui.agentName.textContent = snap.display_name || snap.username;
    const desk = snap.phone === 'desk_phone';
    ui.phoneLine.textContent = desk
      ? 'Desk phone'
      : `Softphone · ${snap.phone_reachable ? 'registered' : 'not registered'}`;
    ui.phoneWarning.hidden = snap.phone_reachable;

    const info = stateInfo(snap.state);
    ui.stateBar.className = `state-bar ${info.css}`;
    ui.stateName.textContent = info.label;
    ui.stateTimer.dataset.since = String(snap.state_since_unix_ms);
    document.title = `${info.label} · Switchboard CCP`;

    renderStatuses(snap);

    // Transfer stays open only while its contact is connected and has no third party.
    if (state.transferFor) {
      const c = snap.contacts.find((x) => x.id === state.transferFor);
      if (!c || c.state !== 'connected' || thirdParty(c)) closeTransfer(false);
    }

    const canDial = hasPermission('OutboundCallAccess');
    ui.dialer.hidden = !canDial || liveContacts(snap).length > 0 || Boolean(state.transferFor);

    renderContacts();
    if (state.focusMonitor && snap.state === 'Monitoring') {
      // The headset was pressed: the keyboard goes on to the monitoring controls.
      state.focusMonitor = false;
      const first = ui.contacts.querySelector('.contact-monitoring button');
      if (first) first.focus();
    }
    if ((prev && prev.state === 'Monitoring') !== (snap.state === 'Monitoring')) renderFloor();
    tickTimers();

    // Ring while a contact is offered; a desktop notification for each new one.
    const incoming = snap.contacts.filter((c) => c.state === 'incoming');
    if (incoming.length) ring.start(); else ring.stop();
    for (const c of incoming) notifyIncoming(c);
    closeNotifications(new Set(incoming.map((c) => c.id)));
  }

  function hasPermission(p) {
    return Boolean(state.user && Array.isArray(state.user.permissions)
      && state.user.permissions.includes(p));
  }

  function renderStatuses(snap) {
    const select = ui.statusSelect;
    const names = snap.statuses.map((s) => s.name);
    const current = Array.from(select.options).map((o) => o.value);
    if (names.join('\n') !== current.join('\n')) {
      select.replaceChildren(...snap.statuses.map((s) => el('option', { value: s.name, text: s.name })));
    }
    if (!names.includes(snap.status)) {
      select.append(el('option', { value: snap.status, text: snap.status }));
    }
    if (document.activeElement !== select || !state.inFlight.has('status')) select.value = snap.status;
    select.disabled = state.inFlight.has('status');
  }

  ui.panel.addEventListener('focusin', (ev) => {
    if (ev.target !== ui.statusSelect) state.focusParked = false;
  });
  ui.statusSelect.addEventListener('pointerdown', () => { state.focusParked = false; });

  ui.statusSelect.addEventListener('change', () => {
    const status = ui.statusSelect.value;
    if (!state.snap || status === state.snap.status) return;
    act('status', 'PUT', '/agent/status', { status }).then((r) => {
      if (r === null && state.snap) ui.statusSelect.value = state.snap.status;
    });
  });

  function thirdParty(contact) {
    return contact.connections.find((c) => c.kind === 'third_party' && c.state !== 'disconnected');
  }

  function button(label, key, onClick, opts = {}) {
    const busy = state.inFlight.has(key);
    return el('button', {
      type: 'button',
      class: `btn ${opts.css || ''}`.trim(),
      'aria-label': opts.aria || null,
      title: opts.title || null,
      'aria-expanded': opts.expanded === undefined ? null : String(opts.expanded),
      'aria-controls': opts.controls || null,
      // Busy buttons stay focusable (a disabled one would drop the keyboard focus);
      // act() ignores a second press while the first is under way.
      disabled: opts.disabled || null,
      'aria-disabled': busy ? 'true' : null,
      'aria-busy': busy ? 'true' : null,
      dataset: { key },
      on: { click: onClick },
    }, label);
  }

  function timer(sinceMs, attrs = {}) {
    return el('span', { class: 'timer', dataset: { since: String(sinceMs) }, ...attrs });
  }

  function contactPath(c, action) {
    return `/contacts/${encodeURIComponent(c.id)}/${action}`;
  }

  function renderContacts() {
    const snap = state.snap;
    if (!snap) return;
    const focused = document.activeElement;
    const focusKey = focused && ui.contacts.contains(focused) ? focused.dataset.key : null;

    const cards = snap.state === 'Monitoring'
      ? [monitoringCard(snap)]
      : snap.contacts.map(contactCard);
    if (snap.state === 'Missed' && !snap.contacts.some((c) => c.state === 'missed')) {
      cards.unshift(missedCard(null));
    }
    ui.contacts.replaceChildren(...cards);
    tickTimers();

    const firstButton = () => ui.contacts.querySelector('button:not([disabled])');
    if (focusKey) {
      const again = ui.contacts.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
      const next = again || firstButton();
      if (next) {
        next.focus();
      } else {
        // The card has no buttons for now (e.g. Connecting…): wait at the top of the panel,
        // and come back to the card when it has some.
        ui.statusSelect.focus();
        state.focusParked = true;
      }
    } else if (state.focusParked && document.activeElement === ui.statusSelect) {
      const next = firstButton();
      if (next) {
        next.focus();
        state.focusParked = false;
      }
    }
  }

  function contactCard(c) {
    switch (c.state) {
      case 'incoming': return incomingCard(c);
      case 'connecting':
      case 'connected': return activeCard(c);
      case 'ended': return acwCard(c);
      case 'missed': return missedCard(c);
      default: return errorCard(c);
    }
  }

  function contactHead(title, c, timerEl) {
    return el('div', { class: 'contact-head' },
      el('h3', { class: 'contact-title', text: title }),
      timerEl || null);
  }

  function meta(c) {
    const parts = [];
    if (c.queue) parts.push(`Queue: ${c.queue}`);
    if (c.initiation === 'outbound') parts.push('Outbound call');
    else if (c.initiation === 'transfer' || c.initiation === 'queue_transfer') parts.push('Transferred');
    return parts.length ? el('p', { class: 'contact-meta', text: parts.join(' · ') }) : null;
  }

  function incomingCard(c) {
    const snap = state.snap;
    const desk = snap.phone === 'desk_phone';
    const caller = partyText(c.customer);
    let hint = null;
    if (desk) hint = el('p', { class: 'hint', text: 'Pick up your desk phone to answer' });
    else if (snap.auto_accept) hint = el('p', { class: 'hint', text: 'Connecting automatically…' });
    const buttons = [];
    if (!desk && !snap.auto_accept) {
      buttons.push(button('Accept', `accept:${c.id}`, () => {
        ring.stop();
        act(`accept:${c.id}`, 'POST', contactPath(c, 'accept'));
      }, { css: 'btn-accept', aria: 'Accept call', title: `Accept the call from ${caller}` }));
    }
    buttons.push(button('Reject', `reject:${c.id}`, () => {
      act(`reject:${c.id}`, 'POST', contactPath(c, 'reject'));
    }, { css: 'btn-danger', aria: 'Reject call', title: `Reject the call from ${caller}` }));
    return el('article', { class: 'contact contact-incoming', 'aria-label': `Incoming call from ${caller}` },
      contactHead('Incoming call', c, timer(c.state_since_unix_ms, { 'aria-label': 'Ringing for' })),
      callerEl(c.customer),
      meta(c),
      hint,
      el('div', { class: 'btn-row' }, buttons));
  }

  function connectionItem(c, conn) {
    const kind = KIND_LABELS[conn.kind] || conn.kind;
    const who = kind.toLowerCase();
    const stateLabel = CONNECTION_STATES[conn.state] || conn.state;
    const live = conn.state !== 'disconnected';
    const buttons = [];
    if (conn.state === 'hold') {
      buttons.push(button('Resume', `resume:${c.id}:${conn.kind}`, () => {
        act(`resume:${c.id}:${conn.kind}`, 'POST', `${contactPath(c, 'connections')}/${conn.kind}/resume`);
      }, { aria: `Resume ${who}`, title: `Take the ${who} off hold` }));
    } else if (conn.state === 'connected') {
      buttons.push(button('Hold', `hold:${c.id}:${conn.kind}`, () => {
        act(`hold:${c.id}:${conn.kind}`, 'POST', `${contactPath(c, 'connections')}/${conn.kind}/hold`);
      }, { aria: `Hold ${who}`, title: `Put the ${who} on hold` }));
    }
    if (live) {
      buttons.push(button('End', `end:${c.id}:${conn.kind}`, () => {
        act(`end:${c.id}:${conn.kind}`, 'POST', `${contactPath(c, 'connections')}/${conn.kind}/end`);
      }, { css: 'btn-end', aria: `End ${who}`, title: `Hang up the ${who}` }));
    }
    return el('li', {
      class: `connection connection-${conn.state}`,
      'aria-label': `${kind} ${partyText(conn.endpoint)}, ${stateLabel}`,
    },
    el('div', { class: 'connection-head' },
      el('span', { class: 'connection-who' },
        el('span', { class: 'connection-kind', text: kind }),
        el('span', { class: 'connection-endpoint', text: party(conn.endpoint).main })),
      el('span', { class: `badge badge-${conn.state}`, text: stateLabel }),
      live ? timer(conn.state_since_unix_ms, { 'aria-label': `${stateLabel} for` }) : null),
    buttons.length ? el('div', { class: 'btn-row' }, buttons) : null);
  }

  function activeCard(c) {
    const caller = partyText(c.customer);
    const title = c.state === 'connecting' ? 'Connecting…' : 'Connected';
    const third = thirdParty(c);
    const actions = [];
    if (c.state === 'connected' && third) {
      const key = (a) => `${a}:${c.id}`;
      actions.push(
        button('Join', key('join'), () => act(key('join'), 'POST', contactPath(c, 'join')),
          { title: 'Join: everyone hears everyone (conference)' }),
        button('Swap', key('swap'), () => act(key('swap'), 'POST', contactPath(c, 'swap')),
          { title: 'Swap: talk to the party on hold; the other waits on hold' }),
        button('Hold all', key('hold-all'), () => act(key('hold-all'), 'POST', contactPath(c, 'hold-all')),
          { title: 'Put the customer and the third party on hold' }),
        button('Leave', key('leave'), () => act(key('leave'), 'POST', contactPath(c, 'leave')),
          { css: 'btn-danger', title: 'Leave the call: the customer and the third party stay connected' }),
      );
    } else if (c.state === 'connected') {
      const open = state.transferFor === c.id;
      actions.push(button('Transfer', `transfer-open:${c.id}`, () => {
        if (state.transferFor === c.id) closeTransfer(true);
        else openTransfer(c.id);
      }, { css: open ? 'btn-primary' : '', expanded: open, controls: 'transfer', title: 'Transfer the call to a quick connect or a number' }));
    }
    return el('article', { class: `contact contact-${c.state}`, 'aria-label': `${title} call with ${caller}` },
      contactHead(title, c, timer(c.state_since_unix_ms, { 'aria-label': 'Call time' })),
      callerEl(c.customer),
      meta(c),
      c.connections.length
        ? el('ul', { class: 'connections', 'aria-label': 'Connections' }, c.connections.map((conn) => connectionItem(c, conn)))
        : null,
      actions.length
        ? el('div', { class: `btn-row contact-actions${actions.length > 1 ? ' btn-row-multi' : ''}`, role: 'group', 'aria-label': 'Call actions' }, actions)
        : null);
  }

  function acwCard(c) {
    const caller = partyText(c.customer);
    const until = c.acw_until_unix_ms;
    const clock = until
      ? el('p', { class: 'countdown' },
        el('span', { class: 'timer', dataset: { until: String(until) }, 'aria-label': 'After contact work time left' }),
        el('span', { class: 'countdown-label', text: ' left' }))
      : el('p', { class: 'countdown' },
        el('span', { class: 'timer', dataset: { since: String(c.state_since_unix_ms) }, 'aria-label': 'After contact work for' }));
    const handedTo = state.handedOver.get(c.id);
    return el('article', { class: 'contact contact-ended', 'aria-label': `After contact work for the call with ${caller}` },
      contactHead('After contact work', c, null),
      callerEl(c.customer),
      meta(c),
      handedTo ? el('p', { class: 'handover', text: `Handed over to ${handedTo}` }) : null,
      clock,
      el('div', { class: 'btn-row' },
        button('Clear', `clear:${c.id}`, () => act(`clear:${c.id}`, 'POST', contactPath(c, 'clear')),
          { css: 'btn-primary', aria: 'Clear contact', title: 'End after contact work' })));
  }

  function missedCard(c) {
    return el('article', { class: 'contact contact-missed', 'aria-label': 'Missed call' },
      contactHead('Missed call', c, c ? timer(c.state_since_unix_ms) : null),
      c ? callerEl(c.customer) : null,
      c ? meta(c) : el('p', { class: 'contact-meta', text: 'A call rang and was not answered.' }),
      el('div', { class: 'btn-row' },
        button('Clear', 'clear-missed', () => act('clear-missed', 'POST', '/agent/clear-missed'),
          { css: 'btn-primary', aria: 'Clear missed call', title: 'Leave the Missed state' })));
  }

  function errorCard(c) {
    const caller = partyText(c.customer);
    return el('article', { class: 'contact contact-error', 'aria-label': `Failed call with ${caller}` },
      contactHead('Call failed', c, null),
      callerEl(c.customer),
      meta(c),
      el('div', { class: 'btn-row' },
        button('Clear', `clear:${c.id}`, () => act(`clear:${c.id}`, 'POST', contactPath(c, 'clear')),
          { css: 'btn-primary', aria: 'Clear contact' })));
  }

  // What changed, in words, for screen readers.
  function describeChanges(prev, snap) {
    const said = [];
    let urgent = null;
    if (!prev || prev.state !== snap.state) {
      said.push(`Status: ${stateInfo(snap.state).label}`);
    }
    if (snap.state === 'Monitoring') {
      // The monitored contact is the agent's, not the manager's: no contact news.
      if (!prev || prev.state !== 'Monitoring') {
        const m = monitoredAgent(snap);
        said.push(`Monitoring ${m.name}. ${modeInfo(currentMode(snap)).help}`);
      }
      announce(said.join('. '));
      return;
    }
    if (prev && prev.state === 'Monitoring' && state.monitorEnded) {
      said.push(monitorEndedText(state.monitorEnded));
    }
    const before = new Map((prev ? prev.contacts : []).map((c) => [c.id, c]));
    for (const c of snap.contacts) {
      const p = before.get(c.id);
      const caller = c.customer ? partyText(c.customer) : 'unknown caller';
      if (!p || p.state !== c.state) {
        if (c.state === 'incoming') urgent = `Incoming call from ${caller}${c.queue ? ` in ${c.queue}` : ''}`;
        else if (c.state === 'connecting') said.push(`Connecting to ${caller}`);
        else if (c.state === 'connected') said.push(`Connected to ${caller}`);
        else if (c.state === 'ended' && state.handedOver.has(c.id)) {
          said.push(`Call handed over to ${state.handedOver.get(c.id)}. After contact work`);
        } else if (c.state === 'ended') said.push('Call ended. After contact work');
        else if (c.state === 'missed') said.push(`Missed call from ${caller}`);
        else if (c.state === 'error') said.push(`The call with ${caller} failed`);
      }
      const conns = new Map((p ? p.connections : []).map((x) => [x.kind, x.state]));
      for (const conn of c.connections) {
        const was = conns.get(conn.kind);
        if (p && was !== conn.state) {
          said.push(`${KIND_LABELS[conn.kind] || conn.kind}: ${(CONNECTION_STATES[conn.state] || conn.state).toLowerCase()}`);
        }
      }
    }
    if (urgent) announce(urgent, true);
    if (said.length) announce(said.join('. '));
  }

  // The one clock: redraws every timer once a second.
  function tickTimers() {
    const t = now();
    for (const node of document.querySelectorAll('[data-since], [data-until]')) {
      if (node.closest('[hidden]')) continue;
      if (node.dataset.until) node.textContent = duration(Number(node.dataset.until) - t);
      else node.textContent = duration(t - Number(node.dataset.since));
    }
  }
  window.setInterval(tickTimers, 1000);

  // ---------------------------------------------------------------- handovers

  // A contact that ends for this agent while a transfer is on it was left with the transfer
  // (Leave): remember where it went, for the card and screen readers. A transfer whose third
  // party is gone again (ended, not answered) is forgotten.
  function noteHandover(snap) {
    const p = state.transferPending;
    if (p) {
      const c = snap.contacts.find((x) => x.id === p.id);
      if (!c) state.transferPending = null;
      else if (c.state === 'ended') {
        state.handedOver.set(c.id, p.name);
        state.transferPending = null;
      } else if (c.state === 'connected' && p.seen && !c.connections.some((x) => x.kind === 'third_party')) {
        state.transferPending = null;
      } else if (c.connections.some((x) => x.kind === 'third_party')) {
        p.seen = true;
      }
    }
    for (const id of state.handedOver.keys()) {
      if (!snap.contacts.some((c) => c.id === id)) state.handedOver.delete(id);
    }
  }

  // ---------------------------------------------------------------- monitoring

  const MONITOR_KEY = 'switchboard.monitor';

  function loadMonitor() {
    try {
      const m = JSON.parse(window.sessionStorage.getItem(MONITOR_KEY) || 'null');
      return m && typeof m.contact === 'string' ? m : null;
    } catch (e) {
      return null;
    }
  }

  function saveMonitor() {
    try {
      if (state.monitor) window.sessionStorage.setItem(MONITOR_KEY, JSON.stringify(state.monitor));
      else window.sessionStorage.removeItem(MONITOR_KEY);
    } catch (e) { /* storage off: the mode is not kept across reloads */ }
  }

  function modeInfo(mode) {
    return MONITOR_MODES.find((m) => m.mode === mode) || MONITOR_MODES[0];
  }

  // The contact the manager is monitoring (the snapshot carries it while Monitoring).
  function monitoredContact(snap) {
    if (!snap || snap.state !== 'Monitoring') return null;
    const c = snap.contacts[0];
    return c ? c.id : (state.monitor && state.monitor.contact) || null;
  }

  function currentMode(snap) {
    const id = monitoredContact(snap);
    return state.monitor && state.monitor.contact === id && state.monitor.mode
      ? state.monitor.mode : 'listen';
  }

  // Whom the manager is monitoring: the floor's agent on that contact, else what the page
  // knew when the headset was pressed.
  function monitoredAgent(snap) {
    const id = monitoredContact(snap);
    const c = snap.contacts.find((x) => x.id === id) || null;
    const row = id && state.floor
      ? state.floor.agents.find((a) => a.contact === id && a.username !== snap.username) : null;
    const saved = state.monitor && state.monitor.contact === id ? state.monitor : null;
    return {
      contact: id,
      username: (row && row.username) || (saved && saved.username) || null,
      name: (row && row.display_name) || (saved && saved.agentName) || 'an agent',
      queue: (row && row.queue) || (c && c.queue) || null,
      customer: c ? c.customer : null,
    };
  }

  // Follows the manager's state in and out of Monitoring (the server ends it when the
  // agent's call ends, or the manager's phone hangs up).
  function noteMonitoring(prev, snap) {
    const was = prev && prev.state === 'Monitoring';
    const is = snap.state === 'Monitoring';
    if (is) {
      const id = monitoredContact(snap);
      if (!state.monitor || state.monitor.contact !== id) {
        const m = monitoredAgent(snap);
        state.monitor = { contact: id, username: m.username, agentName: m.name, mode: 'listen' };
        saveMonitor();
      }
      if (!was) {
        state.monitorEnded = null;
        ui.monitorNotice.hidden = true;
      }
    } else if (was) {
      const m = monitoredAgent(prev);
      state.monitorEnded = {
        name: m.name,
        username: m.username,
        contact: m.contact,
        byUser: state.monitorEnding,
        callOver: false,
      };
      state.monitorEnding = false;
      state.monitor = null;
      saveMonitor();
      checkCallOver();
      showMonitorEnded();
    } else if (state.monitor && !state.inFlight.has(`headset:${state.monitor.username}`)) {
      // A reload after the session ended elsewhere.
      state.monitor = null;
      saveMonitor();
    }
  }

  // Whether the floor shows the monitored agent off that call now.
  function checkCallOver() {
    const n = state.monitorEnded;
    if (!n || n.byUser || n.callOver || !state.floor) return false;
    const row = state.floor.agents.find((a) => a.username === n.username);
    if (row && row.contact === n.contact && row.state === 'Busy') return false;
    n.callOver = true;
    return true;
  }

  function monitorEndedText(n) {
    if (n.byUser) return `Monitoring ended. You left ${n.name}'s call.`;
    if (n.callOver) return `Monitoring ended. ${n.name}'s call is over.`;
    return 'Monitoring ended.';
  }

  function showMonitorEnded() {
    const n = state.monitorEnded;
    ui.monitorNotice.hidden = !n;
    ui.monitorNoticeText.textContent = n ? monitorEndedText(n) : '';
  }

  ui.monitorNoticeDismiss.addEventListener('click', () => {
    state.monitorEnded = null;
    showMonitorEnded();
    ui.statusSelect.focus();
  });

  // The manager's card while Monitoring: whom, the mode, End.
  function monitoringCard(snap) {
    const m = monitoredAgent(snap);
    state.monitorSig = `${m.name}|${m.queue}`;
    const mode = currentMode(snap);
    const modes = MONITOR_MODES.filter((x) => hasPermission(x.permission));
    const details = [];
    if (m.queue) details.push(`Queue: ${m.queue}`);
    if (m.customer) details.push(`Customer: ${partyText(m.customer)}`);
    const buttons = modes.map((x) => {
      const key = `monitor-mode:${x.mode}`;
      const pressed = x.mode === mode;
      const b = button(x.label, key, () => {
        if (currentMode(state.snap) === x.mode) return;
        act(key, 'PUT', '/monitor/mode', { mode: x.mode }, () => {
          if (state.monitor) {
            state.monitor.mode = x.mode;
            saveMonitor();
          }
          announce(x.help);
        });
      }, { title: x.help });
      b.setAttribute('aria-pressed', String(pressed));
      return b;
    });
    return el('article', {
      class: 'contact contact-monitoring',
      'aria-label': `Monitoring ${m.name}`,
    },
    contactHead('Monitoring', null, timer(snap.state_since_unix_ms, { 'aria-label': 'Monitoring for' })),
    el('p', { class: 'monitor-agent', text: m.name }),
    details.length ? el('p', { class: 'contact-meta', text: details.join(' · ') }) : null,
    el('div', { class: 'segmented', role: 'group', 'aria-label': 'Monitoring mode' }, buttons),
    el('p', { class: 'mode-help', text: modeInfo(mode).help }),
    el('div', { class: 'btn-row' },
      button('End', 'monitor-end', async () => {
        state.monitorEnding = true;
        const r = await act('monitor-end', 'DELETE', '/monitor');
        if (r === null && state.snap && state.snap.state === 'Monitoring') state.monitorEnding = false;
      }, { css: 'btn-end', aria: 'End monitoring', title: `Stop monitoring ${m.name} (hangs up your phone)` })));
  }

  // ---------------------------------------------------------------- the floor

  function isFloor(d) {
    return d && typeof d === 'object' && Array.isArray(d.queues) && Array.isArray(d.agents);
  }

  function setFloorLive(kind) {
    ui.floorLive.className = `floor-live${kind === 'live' ? '' : ' floor-live-waiting'}`;
    ui.floorLiveText.textContent = kind === 'live' ? 'Live'
      : kind === 'reconnecting' ? 'Reconnecting… (figures may be out of date)' : 'Connecting…';
  }

  function agentColumns() {
    return hasPermission('ManagerListenIn') ? 5 : 4;
  }

  function emptyRow(cols, text) {
    return el('tr', { class: 'empty-row' }, el('td', { colspan: String(cols), text }));
  }

  // A cell with nothing to show: a dash on screen, words for screen readers.
  function none(words = 'none') {
    return [el('span', { 'aria-hidden': 'true', text: '—' }), el('span', { class: 'sr-only', text: words })];
  }

  function percent(part, whole) {
    if (!whole) return null;
    return `${Math.round((100 * part) / whole)}%`;
  }

  function td(content, attrs = {}) {
    return el('td', attrs, content === null || content === undefined ? none() : content);
  }

  function queueRow(q, at) {
    const waiting = q.contacts_in_queue > 0 && typeof q.oldest_contact_age_ms === 'number';
    const sl20 = percent(q.answered_within_20s_today, q.handled_today);
    const sl60 = percent(q.answered_within_60s_today, q.handled_today);
    const aht = typeof q.average_handle_time_ms === 'number' ? duration(q.average_handle_time_ms) : null;
    const slTitle = (n, s) => `${n} of ${q.handled_today} handled contacts answered within ${s} s`;
    return el('tr', { dataset: { queue: q.name } },
      el('th', { scope: 'row', class: 'col-name', text: q.name }),
      td(String(q.contacts_in_queue), { class: q.contacts_in_queue > 0 ? 'warn' : null }),
      td(waiting ? timer(at - q.oldest_contact_age_ms) : null),
      td(String(q.agents_staffed), { title: `${q.agents_online} online` }),
      td(String(q.agents_available)),
      td(String(q.agents_on_contact)),
      td(String(q.agents_in_acw)),
      td(String(q.agents_missed), { class: q.agents_missed > 0 ? 'warn' : null }),
      td(String(q.handled_today)),
      td(String(q.abandoned_today)),
      td(sl20, { title: sl20 ? slTitle(q.answered_within_20s_today, 20) : 'Nothing handled today' }),
      td(sl60, { title: sl60 ? slTitle(q.answered_within_60s_today, 60) : 'Nothing handled today' }),
      td(aht, { title: aht ? 'Talk, hold and after contact work per handled contact' : 'No contact fully handled today' }));
  }

  function headsetIcon() {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('fill', 'currentColor');
    path.setAttribute('d', 'M12 3a8 8 0 0 0-8 8v6.5A2.5 2.5 0 0 0 6.5 20H9v-7H6v-2a6 6 0 0 1 12 0v2h-3v7h2.5a2.5 2.5 0 0 0 2.5-2.5V11a8 8 0 0 0-8-8z');
    svg.append(path);
    return svg;
  }

  // The headset beside an agent on a call: listen in, or why not.
  function headsetButton(a) {
    const key = `headset:${a.username}`;
    const busy = state.inFlight.has(key);
    const watching = monitoredContact(state.snap);
    let reason = null;
    let label = 'Listen in';
    let css = 'btn btn-headset';
    if (watching && watching === a.contact) {
      reason = `You are monitoring this call: use End in the panel to stop`;
      label = 'Monitoring';
      css += ' is-monitoring';
    } else if (watching) {
      reason = 'You are monitoring another call: end it first';
    } else if (!a.listen_in_allowed) {
      reason = a.listen_in_reason || RECORDING_OFF;
    }
    const name = `Listen in on ${a.display_name}`;
    const b = el('button', {
      type: 'button',
      class: css,
      dataset: { key },
      'aria-label': reason ? `${name}: ${reason}` : name,
      title: reason || `Listen in on ${a.display_name}'s call (your phone is called)`,
      'aria-disabled': reason || busy ? 'true' : null,
      'aria-busy': busy ? 'true' : null,
      on: {
        click: () => {
          if (busy) return;
          if (reason) {
            showFloorError(reason);
            return;
          }
          startMonitoring(a);
        },
      },
    }, headsetIcon(), label);
    if (!watching && !a.listen_in_allowed && !a.listen_in_reason) {
      // Said by the label already; shown for those who do not hover.
      return [b, el('span', { class: 'headset-note', 'aria-hidden': 'true', text: 'Not recorded' })];
    }
    return b;
  }

  function agentRow(a, me) {
    const info = stateInfo(a.state);
    const onCall = a.state === 'Busy' && a.contact && a.username !== me;
    const monitored = monitoredContact(state.snap);
    const sub = [a.username, a.routing_profile].filter(Boolean).join(' · ');
    const cells = [
      el('th', { scope: 'row', class: 'col-name' },
        a.display_name || a.username,
        sub ? el('span', { class: 'agent-sub', text: sub }) : null),
      el('td', { class: 'col-text' },
        el('span', { class: `badge badge-state ${info.css}`, text: info.label })),
      td(timer(a.state_since_unix_ms, { 'aria-label': `${info.label} for` })),
      td(a.queue || null, { class: 'col-text' }),
    ];
    if (hasPermission('ManagerListenIn')) {
      cells.push(el('td', { class: 'col-action' }, onCall ? headsetButton(a) : null));
    }
    return el('tr', {
      class: monitored && a.contact === monitored && a.username !== me ? 'row-monitored' : null,
      dataset: { agent: a.username },
    }, cells);
  }

  function renderFloor() {
    const f = state.floor;
    if (!f || ui.floor.hidden) return;
    const focused = document.activeElement;
    const focusKey = focused && ui.floor.contains(focused) && focused.dataset ? focused.dataset.key : null;
    const me = state.user ? state.user.username : null;

    ui.queuesBody.replaceChildren(...(f.queues.length
      ? f.queues.map((q) => queueRow(q, f.at_unix_ms))
      : [emptyRow(13, 'No queues are configured.')]));
    ui.agentsBody.replaceChildren(...(f.agents.length
      ? f.agents.map((a) => agentRow(a, me))
      : [emptyRow(agentColumns(), 'No agents.')]));
    const n = f.monitoring_sessions || 0;
    ui.floorSessions.textContent = n === 1 ? '1 monitoring session' : `${n} monitoring sessions`;

    if (focusKey) {
      const again = ui.floor.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
      if (again) again.focus();
      else ui.agentsBody.closest('.table-wrap').focus();
    }
    // The monitored agent's name and queue come from the floor: redraw the card when they do.
    if (state.snap && state.snap.state === 'Monitoring') {
      const m = monitoredAgent(state.snap);
      const sig = `${m.name}|${m.queue}`;
      if (sig !== state.monitorSig) {
        state.monitorSig = sig;
        renderContacts();
      }
    }
    if (checkCallOver()) showMonitorEnded();
    noteFloorCounts(f);
    tickTimers();
  }

  // ---------------------------------------------------------------- recent contacts

  const RECENT_COUNT = 20;
  const REASON_WORDS = {
    customer: 'Customer hung up',
    agent: 'Agent hung up',
    third_party: 'Third party hung up',
    flow: 'Ended by the flow',
    error: 'Error',
  };

  function resetRecent() {
    state.recentSig = null;
    state.recentGen += 1;
    state.recentLoading = false;
    state.recentAgain = false;
    ui.recentBody.replaceChildren();
    ui.recentStatus.textContent = '';
    stopPlayer();
  }

  function stopPlayer() {
    ui.recentAudio.pause();
    ui.recentAudio.removeAttribute('src');
    ui.recentAudio.load();
    ui.recentPlayer.hidden = true;
    ui.recentPlayerLabel.textContent = '';
    delete ui.recentPlayer.dataset.contact;
  }

  // The floor's handled and abandoned figures: when they change, a contact was finished.
  function noteFloorCounts(f) {
    if (ui.recent.hidden) return;
    const sig = f.queues.map((q) => `${q.name}:${q.handled_today}:${q.abandoned_today}`).join('|');
    if (sig === state.recentSig) return;
    state.recentSig = sig;
    loadRecent();
  }

  function localMidnight() {
    const d = new Date(now());
    d.setHours(0, 0, 0, 0);
    return d.getTime();
  }

  // Today's contacts come oldest first, a page at a time: keep the last 20, newest first.
  async function fetchRecent() {
    const base = `/contacts?from=${localMidnight()}&limit=1000&format=json`;
    let tail = [];
    let cursor = null;
    for (let pages = 0; pages < 50; pages += 1) {
      const data = await api('GET', cursor ? `${base}&cursor=${encodeURIComponent(cursor)}` : base);
      const items = data && Array.isArray(data.items) ? data.items : [];
      tail = tail.concat(items).slice(-RECENT_COUNT);
      cursor = data && data.next_cursor;
      if (!cursor) break;
    }
    return tail.sort((a, b) => b.initiation_unix_ms - a.initiation_unix_ms);
  }

  async function loadRecent() {
    if (state.recentLoading) {
      state.recentAgain = true;
      return;
    }
    state.recentLoading = true;
    const gen = state.recentGen;
    if (!ui.recentBody.childElementCount) {
      ui.recentBody.replaceChildren(emptyRow(recentColumns(), 'Loading today’s contacts…'));
    }
    try {
      const items = await fetchRecent();
      if (gen !== state.recentGen) return;
      renderRecent(items);
      ui.recentStatus.textContent = '';
    } catch (e) {
      if (gen !== state.recentGen || e.status === 401) return;
      ui.recentStatus.textContent = e.status === 403
        ? 'You do not have permission to search contacts.'
        : `Recent contacts could not be loaded: ${e.message}`;
      if (!ui.recentBody.querySelector('tr[data-contact]')) {
        ui.recentBody.replaceChildren(emptyRow(recentColumns(), 'Not available.'));
      }
    } finally {
      if (gen === state.recentGen) {
        state.recentLoading = false;
        if (state.recentAgain) {
          state.recentAgain = false;
          loadRecent();
        }
      }
    }
  }

  function canListen() {
    return hasPermission('ListenCallRecordings');
  }

  function recentColumns() {
    return canListen() ? 7 : 6;
  }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  function recordingUrl(r) {
    return `${API}/contacts/${encodeURIComponent(r.contact_id)}/recording`;
  }

  function recentDescription(r) {
    const who = r.customer_endpoint ? partyText(r.customer_endpoint) : 'unknown customer';
    return `the ${clock(r.initiation_unix_ms)} contact with ${who}`;
  }

  function playRecording(r) {
    const url = recordingUrl(r);
    ui.recentPlayerLabel.textContent = `Recording of ${recentDescription(r)}`
      + (r.queue ? ` (${r.queue})` : '');
    ui.recentPlayer.dataset.contact = r.contact_id;
    ui.recentAudio.src = url;
    ui.recentPlayer.hidden = false;
    const played = ui.recentAudio.play();
    if (played && typeof played.catch === 'function') played.catch(() => { /* the controls remain */ });
    announce(`Playing the recording of ${recentDescription(r)}.`);
  }

  function recentRow(r) {
    const ended = typeof r.disconnect_unix_ms === 'number';
    const dur = ended ? duration(r.disconnect_unix_ms - r.initiation_unix_ms) : null;
    const reason = r.disconnect_reason ? (REASON_WORDS[r.disconnect_reason] || r.disconnect_reason)
      : (ended ? null : 'In progress');
    const cells = [
      el('th', { scope: 'row', class: 'col-text' },
        el('time', { datetime: new Date(r.initiation_unix_ms).toISOString(), text: clock(r.initiation_unix_ms) })),
      td(r.queue || null, { class: 'col-text' }),
      td(r.agent_username || null, { class: 'col-text' }),
      td(r.customer_endpoint ? partyText(r.customer_endpoint) : null, { class: 'col-text' }),
      td(dur),
      td(reason, { class: 'col-text' }),
    ];
    if (canListen()) {
      const desc = recentDescription(r);
      cells.push(el('td', { class: 'col-action' }, r.recording_path
        ? el('span', { class: 'recent-actions' },
          el('button', {
            type: 'button',
            class: 'btn btn-small btn-quiet',
            'aria-label': `Play the recording of ${desc}`,
            dataset: { key: `play:${r.contact_id}` },
            on: { click: () => playRecording(r) },
          }, 'Play'),
          el('a', {
            href: recordingUrl(r),
            download: `${r.contact_id}.wav`,
            class: 'recent-download',
            'aria-label': `Download the recording of ${desc}`,
            dataset: { key: `download:${r.contact_id}` },
          }, 'Download'))
        : none('no recording')));
    }
    return el('tr', { dataset: { contact: r.contact_id } }, cells);
  }

  function renderRecent(items) {
    const focused = document.activeElement;
    const focusKey = focused && ui.recent.contains(focused) && focused.dataset ? focused.dataset.key : null;
    ui.recentRecCol.hidden = !canListen();
    ui.recentBody.replaceChildren(...(items.length
      ? items.map(recentRow)
      : [emptyRow(recentColumns(), 'No contacts yet today.')]));
    if (focusKey) {
      const again = ui.recent.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
      if (again) again.focus();
      else ui.recentBody.closest('.table-wrap').focus();
    }
  }

  async function startMonitoring(a) {
    const key = `headset:${a.username}`;
    if (state.inFlight.has(key)) return;
    hideFloorError();
    state.inFlight.add(key);
    state.monitor = { contact: a.contact, username: a.username, agentName: a.display_name, mode: 'listen' };
    state.focusMonitor = true;
    renderFloor();
    const seq = state.wsSeq;
    try {
      const data = await api('POST', '/monitor', { contact: a.contact, mode: 'listen' });
      saveMonitor();
      if (isSnapshot(data) && (state.wsSeq === seq || !state.ws)) render(data);
    } catch (e) {
      state.focusMonitor = false;
      if (!state.snap || state.snap.state !== 'Monitoring') state.monitor = null;
      if (e.status !== 401) showFloorError(floorErrorText(e, a));
    } finally {
      state.inFlight.delete(key);
      renderFloor();
    }
  }

  function floorErrorText(e, a) {
    if (e.status === 403) {
      const perm = e.permission || 'ManagerListenIn';
      return `You cannot listen in on ${a.display_name}: this needs the ${perm} permission, which you do not have.`;
    }
    return `You cannot listen in on ${a.display_name}: ${sentence(e.message).replace(/^./, (ch) => ch.toLowerCase())}`
      .replace(/([^.!?])$/, '$1.');
  }

  function showFloorError(text) {
    ui.floorErrorText.textContent = sentence(text);
    ui.floorError.hidden = false;
  }

  function hideFloorError() {
    ui.floorError.hidden = true;
    ui.floorErrorText.textContent = '';
  }

  ui.floorErrorDismiss.addEventListener('click', () => {
    hideFloorError();
    ui.agentsBody.closest('.table-wrap').focus();
  });

  // ---------------------------------------------------------------- transfer

  async function openTransfer(contactId) {
    state.transferFor = contactId;
    ui.transfer.hidden = false;
    ui.dialer.hidden = true;
    ui.qcFilter.value = '';
    ui.transferNumber.value = '';
    setE164(ui.transferE164, ui.transferNumber, '', '');
    renderContacts();
    ui.qcList.replaceChildren(el('li', { class: 'muted qc-loading', text: 'Loading quick connects…' }));
    ui.qcEmpty.hidden = true;
    ui.qcBlock.hidden = false;
    try {
      const list = await api('GET', '/quick-connects');
      state.qcAllowed = true;
      state.quickConnects = Array.isArray(list) ? list : [];
    } catch (e) {
      state.quickConnects = [];
      if (e.status === 403) state.qcAllowed = false;
      else if (e.status !== 401) showError(e);
    }
    if (state.transferFor !== contactId) return;
    ui.qcBlock.hidden = !state.qcAllowed;
    renderQuickConnects();
    const first = state.qcAllowed ? ui.qcList.querySelector('button') : null;
    (first || ui.transferNumber).focus();
  }

  function closeTransfer(focusBack) {
    const id = state.transferFor;
    state.transferFor = null;
    ui.transfer.hidden = true;
    if (state.snap) {
      ui.dialer.hidden = !hasPermission('OutboundCallAccess') || liveContacts(state.snap).length > 0;
    }
    renderContacts();
    if (focusBack && id) {
      const b = ui.contacts.querySelector(`[data-key="${CSS.escape(`transfer-open:${id}`)}"]`);
      if (b) b.focus();
    }
  }

  ui.transferClose.addEventListener('click', () => closeTransfer(true));
  ui.transfer.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') closeTransfer(true);
  });

  function renderQuickConnects() {
    const filter = ui.qcFilter.value.trim().toLowerCase();
    const items = state.quickConnects.filter((q) => !filter || q.name.toLowerCase().includes(filter));
    ui.qcList.replaceChildren(...items.map((q) => {
      const type = QC_TYPES[q.type] || q.type;
      const key = `qc:${q.name}`;
      const hint = 'You stay on the call';
      return el('li', {},
        el('button', {
          type: 'button',
          class: 'qc-item',
          dataset: { key },
          'aria-label': `Transfer to ${q.name} (${type}, ${hint.toLowerCase()})`,
          title: q.type === 'external'
            ? `${q.name} is called while the customer waits on hold; then Join, Swap or Leave`
            : `${q.name} is reached through its transfer flow while the customer waits on hold; then Join, Swap or Leave`,
          disabled: state.inFlight.has(key) || null,
          on: {
            click: async () => {
              const id = state.transferFor;
              if (!id) return;
              state.transferPending = { id, name: q.name, seen: false };
              const r = await act(key, 'POST', `/contacts/${encodeURIComponent(id)}/transfer`,
                { quick_connect: q.name }, () => closeTransfer(false));
              if (r === null) state.transferPending = null;
            },
          },
        },
        el('span', { class: 'qc-main' },
          el('span', { class: 'qc-name', text: q.name }),
          el('span', { class: 'qc-hint', text: hint })),
        el('span', { class: 'qc-type', text: type })));
    }));
    ui.qcEmpty.hidden = items.length > 0;
  }

  ui.qcFilter.addEventListener('input', renderQuickConnects);

  ui.transferForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const id = state.transferFor;
    const number = numberToSend(ui.transferNumber);
    if (!id) return;
    if (!number) {
      setE164(ui.transferE164, ui.transferNumber, 'Enter a number to transfer to.', 'bad');
      ui.transferNumber.focus();
      return;
    }
    const btn = $('transfer-dial');
    btn.disabled = true;
    await act(`transfer-number:${id}`, 'POST', `/contacts/${encodeURIComponent(id)}/transfer`, { number },
      () => closeTransfer(false));
    btn.disabled = false;
  });

  // ---------------------------------------------------------------- dial pads

  function fillCountries(select, preferred) {
    const code = (preferred || 'US').toUpperCase();
    const list = COUNTRIES.slice();
    if (!list.some((c) => c[0] === code)) list.unshift([code, code, '']);
    select.replaceChildren(...list.map(([iso, name, dial]) => el('option', {
      value: iso,
      title: name,
      'aria-label': `${name} ${dial}`.trim(),
      text: `${iso} ${dial}`.trim(),
    })));
    select.value = code;
  }

  const KEYS = [
    ['1', ''], ['2', 'ABC'], ['3', 'DEF'],
    ['4', 'GHI'], ['5', 'JKL'], ['6', 'MNO'],
    ['7', 'PQRS'], ['8', 'TUV'], ['9', 'WXYZ'],
    ['+', ''], ['0', ''], ['⌫', ''],
  ];

  for (const pad of document.querySelectorAll('.keypad')) {
    const input = $(pad.dataset.for);
    for (const [key, letters] of KEYS) {
      const aria = key === '⌫' ? 'Delete last digit' : key === '+' ? 'Plus' : key;
      pad.append(el('button', {
        type: 'button',
        class: 'btn key',
        'aria-label': aria,
        on: {
          click: () => {
            if (key === '⌫') input.value = input.value.slice(0, -1);
            else input.value += key;
            input.dispatchEvent(new Event('input', { bubbles: true }));
          },
        },
      }, key, letters ? el('span', { class: 'key-sub', 'aria-hidden': 'true', text: ` ${letters}` }) : null));
    }
  }

  // Live E.164 check of a number input against its country selector.
  function liveFormat(input, country, out) {
    let seq = 0;
    let timerId = null;
    const check = () => {
      window.clearTimeout(timerId);
      const number = input.value.trim();
      input.dataset.e164 = '';
      if (!number) {
        setE164(out, input, '', '');
        return;
      }
      timerId = window.setTimeout(async () => {
        const mine = ++seq;
        const q = `?number=${encodeURIComponent(number)}&country=${encodeURIComponent(country.value)}`;
        try {
          const r = await api('GET', `/numbers/format${q}`);
          if (mine !== seq) return;
          input.dataset.e164 = r && r.e164 ? r.e164 : '';
          setE164(out, input, r && r.e164 ? `Will dial ${r.e164}` : '', 'ok');
        } catch (e) {
          if (mine !== seq || e.status === 401) return;
          setE164(out, input, sentence(e.message), 'bad');
        }
      }, 250);
    };
    input.addEventListener('input', check);
    country.addEventListener('change', check);
  }

  function setE164(out, input, text, kind) {
    out.textContent = text;
    out.className = `e164${kind ? ` e164-${kind}` : ''}`;
    if (kind === 'bad') input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }

  function numberToSend(input) {
    return input.dataset.e164 || input.value.trim();
  }

  liveFormat(ui.dialNumber, ui.dialCountry, ui.dialE164);
  liveFormat(ui.transferNumber, ui.transferCountry, ui.transferE164);

  ui.dialerToggle.addEventListener('click', () => {
    const open = ui.dialerToggle.getAttribute('aria-expanded') !== 'true';
    ui.dialerToggle.setAttribute('aria-expanded', String(open));
    ui.dialerBody.hidden = !open;
    if (open) ui.dialNumber.focus();
  });

  ui.dialForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const number = numberToSend(ui.dialNumber);
    if (!number) {
      setE164(ui.dialE164, ui.dialNumber, 'Enter a number to call.', 'bad');
      ui.dialNumber.focus();
      return;
    }
    const btn = $('dial-call');
    btn.disabled = true;
    const r = await act('dial', 'POST', '/calls', { number });
    btn.disabled = false;
    if (r !== null) {
      ui.dialNumber.value = '';
      ui.dialNumber.dataset.e164 = '';
      setE164(ui.dialE164, ui.dialNumber, '', '');
    }
  });

  // ---------------------------------------------------------------- start

  async function start() {
    showScreen('loading');
    try {
      const me = await api('GET', '/me', undefined, { login: true });
      state.user = me;
      enterPanel();
    } catch (e) {
      showLogin(e.status === 401 ? '' : e.message);
    }
  }

  start();
})();
