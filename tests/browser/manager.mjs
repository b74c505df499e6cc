// Drives the managers' real-time metrics (the floor beside the panel) in Debian's headless
// Chromium, as a manager would, and keeps a screenshot of every step.
//
//   node manager.mjs <base-url> <artifact-dir> [--scenario=listen|no-recording] [--mock]
//
// listen (default): log in as maria (CallCenterManager), see the floor live (queues and
// agents); a customer waits in the Sales queue (prints "@@ready-for-call": the harness has a
// customer call and press 1 while alice is Offline) and the page counts them, with the oldest
// age ticking; alice goes Available ("@@agent-available": the harness sets her status through
// the API) and her phone picks up; press the headset beside her with the keyboard: the page
// shows "Monitoring Alice Anders" and maria's status is Monitoring; switch to Barge, Whisper
// and back to Listen; End; listen in again; then the call ends ("@@end-call": the harness ends
// it as alice through the API) and the page shows that monitoring ended, alice in after
// contact work and the Sales figures of the day; alice clears her after contact work
// ("@@clear-acw") and the average handle time shows; the call is in Recent contacts with Play
// and Download: Play (keyboard) loads its recording into the audio player, and a fetch of
// the recording from the page answers 200 audio/wav; log out.
// no-recording: the contact's flow does not record, so the headset beside alice is disabled
// with the reason as its label and tooltip; pressing it shows the reason and asks nothing of
// the server.
//
// Each step prints "@@step <name>" before it runs and "@@ok <name>" after; a failing step
// prints "@@failed <name>: <why>" (with the page's error banners, if any), leaves
// FAILED-<name>.png and exits 1. CSP violations, page errors and any polling of the API
// (the floor comes on the events socket only) fail the run too.
//
// --mock: the base URL is mock-server.mjs; the page's cues are played on it
// (POST /__mock/incoming, /__mock/end-call). CHROMIUM overrides the browser path.
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]));
const [baseArg, artifacts] = args.filter((a) => !a.startsWith('--'));
if (!baseArg || !artifacts) {
  console.error('usage: node manager.mjs <base-url> <artifact-dir> [--scenario=listen|no-recording] [--mock]');
  process.exit(2);
}
const base = baseArg.endsWith('/') ? baseArg : `${baseArg}/`;
const scenario = (args.find((a) => a.startsWith('--scenario=')) || '--scenario=listen').slice('--scenario='.length);
if (!['listen', 'no-recording'].includes(scenario)) {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
const mock = flags.has('--mock');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.log(`@@failed setup: ${executablePath} is missing: run \`apt-get install -y chromium\``);
  process.exit(1);
}
mkdirSync(artifacts, { recursive: true });

const CALL_WAIT = Number(process.env.CCP_CALL_WAIT_MS || 60_000);
const STEP_WAIT = Number(process.env.CCP_STEP_WAIT_MS || 15_000);
const RECORDING_OFF = 'Recording is off for this contact, so listen-in is not possible';

const launchArgs = ['--disable-gpu', '--disable-dev-shm-usage'];
if (typeof process.getuid === 'function' && process.getuid() === 0) launchArgs.push('--no-sandbox');

const browser = await chromium.launch({ executablePath, headless: true, args: launchArgs });
const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
const page = await context.newPage();

const problems = [];
const apiCalls = [];
page.on('console', (msg) => {
  const text = msg.text();
  if (msg.type() === 'error' || msg.type() === 'warning') console.log(`[console.${msg.type()}] ${text} (${msg.location().url || 'no url'})`);
  if (/Content Security Policy|Refused to/i.test(text)) problems.push(`CSP: ${text}`);
});
page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
page.on('request', (req) => {
  const url = new URL(req.url());
  if (url.pathname.startsWith('/api/v1/')) apiCalls.push(`${req.method()} ${url.pathname}`);
});
page.on('response', (res) => {
  if (res.status() >= 400) console.log(`[http ${res.status()}] ${res.request().method()} ${res.url()}`);
});
page.on('websocket', (ws) => {
  console.log(`[websocket] open ${ws.url()}`);
  ws.on('close', () => console.log('[websocket] closed'));
});

let n = 0;
async function step(name, fn) {
  n += 1;
  const label = `${String(n).padStart(2, '0')}-${name}`;
  console.log(`@@step ${name}`);
  try {
    await fn();
    await page.screenshot({ path: join(artifacts, `${label}.png`), fullPage: true });
    console.log(`@@ok ${name}`);
  } catch (e) {
    let banners = '';
    for (const [id, what] of [['#error-text', 'panel error'], ['#floor-error-text', 'floor error']]) {
      try {
        const loc = page.locator(id);
        if (await loc.isVisible()) banners += ` [${what}: ${await loc.innerText()}]`;
      } catch { /* page gone */ }
    }
    try {
      await page.screenshot({ path: join(artifacts, `FAILED-${label}.png`), fullPage: true });
    } catch { /* page gone */ }
    console.log(`@@failed ${name}: ${String(e.message || e).split('\n')[0]}${banners}`);
    console.error(e.stack || String(e));
    await browser.close().catch(() => {});
    process.exit(1);
  }
}

// Waits for `locator`; fails at once when an error banner shows instead.
async function until(locator, timeout = STEP_WAIT, { allowFloorError = false } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await locator.first().isVisible().catch(() => false)) return;
    for (const [banner, text] of [['#error-banner', '#error-text'], ['#floor-error', '#floor-error-text']]) {
      if (allowFloorError && banner === '#floor-error') continue;
      if (await page.locator(banner).isVisible().catch(() => false)) {
        throw new Error(`the page shows an error: ${await page.locator(text).innerText()}`);
      }
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${locator}`);
    await page.waitForTimeout(100);
  }
}

async function untilTrue(what, fn, timeout = STEP_WAIT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last === true) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await page.waitForTimeout(100);
  }
}

const button = (name) => page.getByRole('button', { name, exact: true });
const floor = page.getByRole('region', { name: 'Real-time metrics' });
const stateIs = async (label, css) => {
  await until(page.locator(`#state-bar.${css} #state-name`, { hasText: new RegExp(`^${label}$`) }));
};
const agentRow = (name) => floor.getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(`^${name}`) }) });
const queueRow = (name) => page.locator(`#queues-body tr[data-queue="${name}"]`);
const QUEUE_COLUMNS = ['In queue', 'Oldest', 'Staffed', 'Available', 'On contact', 'ACW', 'Missed', 'Handled', 'Abandoned', 'SL 20 s', 'SL 60 s', 'AHT'];
const queueCell = (queue, column) => queueRow(queue).locator('td').nth(QUEUE_COLUMNS.indexOf(column));
const queueFigure = async (queue, column) => (await queueCell(queue, column).innerText()).trim();
const aliceHeadset = () => agentRow('Alice Anders').getByRole('button', { name: /^Listen in on Alice Anders/ });
const monitoringCard = page.getByRole('article', { name: 'Monitoring Alice Anders' });
const notice = page.locator('#monitor-notice');

async function cue(name, mockPath) {
  console.log(`@@${name}`);
  if (mock) {
    const r = await page.request.post(new URL(mockPath, base).href);
    if (!r.ok()) throw new Error(`mock ${mockPath}: HTTP ${r.status()}`);
  }
}

await step('login-form', async () => {
  await page.goto(base, { waitUntil: 'domcontentloaded' });
  await until(page.getByRole('heading', { name: 'Log in to the Contact Control Panel' }));
  if (await floor.isVisible()) throw new Error('the floor shows before anyone logged in');
});

await step('login', async () => {
  await page.getByLabel('User name', { exact: true }).fill('maria');
  await page.getByLabel('Password', { exact: true }).fill('demo-maria');
  await page.getByLabel('Password', { exact: true }).press('Enter');
  await until(page.getByRole('heading', { name: 'Maria Moreno' }));
  await until(page.getByRole('heading', { name: 'Real-time metrics' }));
});

await step('floor', async () => {
  // Live from the events socket: the queues and the agents.
  await until(page.locator('#floor-live-text', { hasText: /^Live$/ }));
  await until(floor.getByRole('rowheader', { name: 'Support', exact: true }));
  await until(floor.getByRole('rowheader', { name: 'Sales', exact: true }));
  await until(agentRow('Alice Anders'));
  await until(agentRow('Maria Moreno'));
  await until(floor.getByRole('columnheader', { name: 'Listen in' }));
  await until(page.locator('#floor-sessions', { hasText: '0 monitoring sessions' }));
  if (await aliceHeadset().count()) throw new Error('a headset is offered beside an agent who is not on a call');
});

await step('customer-waiting', async () => {
  await cue('ready-for-call', `__mock/enqueue?queue=Sales${scenario === 'no-recording' ? '&record=0' : ''}`);
  await untilTrue('Sales: 1 in queue', async () => (await queueFigure('Sales', 'In queue')) === '1', CALL_WAIT);
  // The oldest contact's age ticks on the page between the server's figures.
  const oldest = queueCell('Sales', 'Oldest');
  await untilTrue('an oldest age', async () => /^\d+:\d\d$/.test((await oldest.innerText()).trim()));
  const before = (await oldest.innerText()).trim();
  await untilTrue('the oldest age to tick', async () => (await oldest.innerText()).trim() !== before, 4000);
});

await step('agent-on-call', async () => {
  await cue('agent-available', '__mock/incoming?answer=1&available=1');
  await until(agentRow('Alice Anders').filter({ hasText: 'Busy' }), CALL_WAIT);
  await untilTrue('Sales: nobody in queue', async () => (await queueFigure('Sales', 'In queue')) === '0');
  await until(agentRow('Alice Anders').getByRole('cell', { name: 'Sales', exact: true }));
  await until(aliceHeadset());
  await untilTrue('Sales: 1 agent on contact', async () => (await queueFigure('Sales', 'On contact')) === '1');
  // Time in status ticks on the page (no new figures needed).
  const timeCell = agentRow('Alice Anders').locator('td').nth(1);
  const before = await timeCell.innerText();
  await untilTrue('the time in status to tick', async () => (await timeCell.innerText()) !== before, 4000);
});

if (scenario === 'listen') {
  await step('headset-offered', async () => {
    const b = aliceHeadset();
    const label = await b.getAttribute('aria-label');
    if (label !== 'Listen in on Alice Anders') throw new Error(`the headset is not offered: "${label}"`);
    if (await b.getAttribute('aria-disabled')) throw new Error('the headset is disabled');
    // Maria is not on a call: no headset beside her.
    if (await agentRow('Maria Moreno').getByRole('button').count()) throw new Error('a headset beside maria herself');
  });

  await step('listen-in', async () => {
    // With the keyboard: focus the headset, press Enter.
    await aliceHeadset().focus();
    await page.keyboard.press('Enter');
    await until(monitoringCard, CALL_WAIT);
    await stateIs('Monitoring', 'state-monitoring');
    await until(monitoringCard.filter({ hasText: 'Queue: Sales' }));
    await until(monitoringCard.getByRole('group', { name: 'Monitoring mode' }));
    await until(button('End monitoring'));
    await until(agentRow('Maria Moreno').filter({ hasText: 'Monitoring' }));
    await until(page.locator('#floor-sessions', { hasText: '1 monitoring session' }));
    await until(agentRow('Alice Anders').getByRole('button', { name: /^Listen in on Alice Anders: You are monitoring this call/ }));
    if ((await button('Listen').getAttribute('aria-pressed')) !== 'true') throw new Error('Listen is not the mode');
    // The keyboard went on to the monitoring controls.
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
    if (focused !== 'Listen') throw new Error(`the focus is on "${focused}", not on the monitoring controls`);
  });

  for (const [mode, help] of [['Barge', 'the agent and the customer both hear you'], ['Whisper', 'only the agent hears you'], ['Listen', 'nobody hears you']]) {
    await step(`mode-${mode.toLowerCase()}`, async () => {
      await button(mode).click();
      await untilTrue(`${mode} pressed`, async () => (await button(mode).getAttribute('aria-pressed')) === 'true');
      await until(monitoringCard.locator('.mode-help', { hasText: help }));
      await stateIs('Monitoring', 'state-monitoring');
    });
  }

  await step('end-monitoring', async () => {
    await button('End monitoring').click();
    await until(notice.filter({ hasText: "Monitoring ended. You left Alice Anders's call." }));
    await untilTrue('the panel to leave Monitoring', async () => !(await page.locator('#state-bar.state-monitoring').count()));
    if (await monitoringCard.count()) throw new Error('the monitoring card stayed');
    await until(page.locator('#floor-sessions', { hasText: '0 monitoring sessions' }));
    await until(agentRow('Alice Anders').filter({ hasText: 'Busy' }));
    await untilTrue('the headset offered again', async () => (await aliceHeadset().getAttribute('aria-label')) === 'Listen in on Alice Anders');
  });

  await step('listen-in-again', async () => {
    await aliceHeadset().click();
    await until(monitoringCard, CALL_WAIT);
    await stateIs('Monitoring', 'state-monitoring');
    if (await notice.isVisible()) throw new Error('the old "monitoring ended" notice stayed');
    await until(page.locator('#floor-sessions', { hasText: '1 monitoring session' }));
  });

  await step('call-ends', async () => {
    await cue('end-call', '__mock/end-call');
    // The server hangs up the monitor leg: the manager's status leaves Monitoring.
    await until(notice.filter({ hasText: "Monitoring ended. Alice Anders's call is over." }), CALL_WAIT);
    await untilTrue('the panel to leave Monitoring', async () => !(await page.locator('#state-bar.state-monitoring').count()));
    if (await monitoringCard.count()) throw new Error('the monitoring card stayed after the call ended');
    await until(agentRow('Alice Anders').filter({ hasText: 'After contact work' }));
    await until(page.locator('#floor-sessions', { hasText: '0 monitoring sessions' }));
    await untilTrue('Sales: 1 handled today', async () => (await queueFigure('Sales', 'Handled')) === '1');
    await untilTrue('Sales: service level 100%', async () => (await queueFigure('Sales', 'SL 20 s')) === '100%');
    await untilTrue('Sales: nothing abandoned', async () => (await queueFigure('Sales', 'Abandoned')) === '0');
    if (await aliceHeadset().count()) throw new Error('a headset is still offered beside alice after her call');
  });

  await step('handle-time', async () => {
    // The handle time counts once after contact work is over.
    const aht = await queueFigure('Sales', 'AHT');
    if (!aht.startsWith('—')) throw new Error(`an average handle time (${aht}) before ACW ended`);
    await cue('clear-acw', '__mock/clear-acw');
    await until(agentRow('Alice Anders').filter({ hasText: 'Available' }));
    await untilTrue('Sales: an average handle time', async () => /^\d+:\d\d$/.test(await queueFigure('Sales', 'AHT')));
  });

  await step('recent-contacts', async () => {
    // The finished call is listed (loaded when the handled count changed, not polled) with
    // its recording: Play loads it into the audio player, and the page may fetch it.
    const recent = page.getByRole('region', { name: 'Recent contacts' });
    const row = recent.getByRole('row').filter({ hasText: 'Sales' }).filter({ hasText: 'alice' });
    await until(row);
    const play = row.getByRole('button', { name: /^Play the recording of / });
    await until(play);
    const download = row.getByRole('link', { name: /^Download the recording of / });
    await until(download);
    const contactId = await row.first().getAttribute('data-contact');
    if (!/^[0-9a-f-]{36}$/.test(contactId || '')) throw new Error(`the row names contact ${contactId}`);
    const url = `/api/v1/contacts/${contactId}/recording`;
    const href = await download.first().getAttribute('href');
    if (href !== url) throw new Error(`the download link points to ${href}, not ${url}`);
    await play.first().focus();
    await page.keyboard.press('Enter');
    const audio = page.locator('#recent-audio');
    await until(audio);
    const src = await audio.evaluate((a) => a.src);
    if (new URL(src).pathname !== url) throw new Error(`the audio element plays ${src}, not ${url}`);
    const label = (await page.locator('#recent-player-label').innerText()).trim();
    if (!label.startsWith('Recording of ')) throw new Error(`the player is labelled "${label}"`);
    const got = await page.evaluate(async (u) => {
      const r = await fetch(u, { credentials: 'same-origin' });
      const body = await r.arrayBuffer();
      return { status: r.status, type: r.headers.get('content-type'), bytes: body.byteLength };
    }, url);
    if (got.status !== 200) throw new Error(`fetching the recording answered HTTP ${got.status}`);
    if (!/^audio\/(x-)?wav/.test(got.type || '')) throw new Error(`the recording is ${got.type}, not audio/wav`);
    if (got.bytes <= 44) throw new Error(`the recording has only ${got.bytes} bytes`);
    await page.locator('#recent').scrollIntoViewIfNeeded();
  });
} else {
  await step('headset-disabled', async () => {
    const b = aliceHeadset();
    const label = await b.getAttribute('aria-label');
    if (label !== `Listen in on Alice Anders: ${RECORDING_OFF}`) throw new Error(`the headset label is "${label}"`);
    if ((await b.getAttribute('aria-disabled')) !== 'true') throw new Error('the headset is not disabled');
    if ((await b.getAttribute('title')) !== RECORDING_OFF) throw new Error(`the tooltip is "${await b.getAttribute('title')}"`);
  });

  await step('headset-refused', async () => {
    const asked = apiCalls.length;
    await aliceHeadset().focus();
    await page.keyboard.press('Enter');
    await until(page.getByRole('alert').filter({ hasText: RECORDING_OFF }), STEP_WAIT, { allowFloorError: true });
    await page.waitForTimeout(300);
    if (apiCalls.slice(asked).some((c) => c.includes('/monitor'))) throw new Error('the page asked the server to listen in anyway');
    if (await page.locator('#state-bar.state-monitoring').count()) throw new Error('the panel shows Monitoring');
  });

  await step('call-ends', async () => {
    await button('Dismiss listen-in message').click();
    await cue('end-call', '__mock/end-call');
    await until(agentRow('Alice Anders').filter({ hasText: 'After contact work' }), CALL_WAIT);
    if (await aliceHeadset().count()) throw new Error('a headset is still offered beside alice after her call');
  });
}

await step('logout', async () => {
  await button('Log out').click();
  await until(page.getByRole('heading', { name: 'Log in to the Contact Control Panel' }));
  if (await floor.isVisible()) throw new Error('the floor stayed after log-out');
});

await browser.close();
// Live from events, never polled: the floor is never fetched, the snapshot once.
const polled = apiCalls.filter((c) => c === 'GET /api/v1/floor').length;
const agentReads = apiCalls.filter((c) => c === 'GET /api/v1/agent').length;
const contactReads = apiCalls.filter((c) => c === 'GET /api/v1/contacts').length;
if (contactReads > 6) problems.push(`the page searched contacts ${contactReads} times (polling?)`);
if (polled > 0) problems.push(`the page fetched the floor ${polled} time(s) instead of following the events`);
if (agentReads > 1) problems.push(`the page read its snapshot ${agentReads} times (polling?)`);
console.log(`api calls: ${apiCalls.join(', ')}`);
if (problems.length) {
  console.log(`@@failed page: ${problems.join(' | ')}`);
  process.exit(1);
}
console.log('@@done');
