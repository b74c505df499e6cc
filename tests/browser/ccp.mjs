// Drives the agent panel (CCP) in Debian's headless Chromium, as an agent would, and keeps a
// screenshot of every step.
//
//   node ccp.mjs <base-url> <artifact-dir> [--handover=NAME] [--consult=NAME] [--no-transfers] [--mock]
//
// The scenario: log in as alice (a wrong password first), go Available, check a number on
// the dial pad (national US and GB numbers shown in E.164, a bad one refused), then take
// three inbound calls (before each it prints "@@ready-for-call" on stdout: the harness then
// has a caller dial in), each Accepted, and after contact work Cleared:
//   1. Hold, Resume, Transfer to the queue quick connect "Sales queue" (--handover=NAME): the
//      customer waits on hold while the transfer waits in the queue; once the queue's agent
//      answers, Join, Swap, Leave, and the card says where the call went;
//   2. Transfer to the external quick connect "Front desk" (--consult=NAME): a third party
//      while the customer waits on hold, then Join, Swap, Hold all, Leave;
//   3. Hold, Resume, End.
// --no-transfers takes only the third call. Then log out.
// Each step prints "@@step <name>" before it runs and "@@ok <name>" after; a failing step
// prints "@@failed <name>: <why>" (with the panel's error banner, if any), leaves
// FAILED-<name>.png and exits 1. CSP violations and page errors fail the run too.
//
// --mock: the base URL is mock-server.mjs; the call is offered by POST /__mock/incoming.
// CHROMIUM overrides the browser path (default /usr/bin/chromium).
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]));
const [baseArg, artifacts] = args.filter((a) => !a.startsWith('--'));
if (!baseArg || !artifacts) {
  console.error('usage: node ccp.mjs <base-url> <artifact-dir> [--handover=NAME] [--consult=NAME] [--no-transfers] [--mock]');
  process.exit(2);
}
const base = baseArg.endsWith('/') ? baseArg : `${baseArg}/`;
const option = (name, fallback) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
};
const withTransfers = !flags.has('--no-transfers');
const handoverTo = option('handover', 'Sales queue');
const consultTo = option('consult', 'Front desk');
const mock = flags.has('--mock');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`@@failed setup: ${executablePath} is missing: run \`apt-get install -y chromium\``);
  process.exit(1);
}
mkdirSync(artifacts, { recursive: true });

// Seconds to wait for things the server does (a call to arrive, a phone to answer).
const CALL_WAIT = Number(process.env.CCP_CALL_WAIT_MS || 60_000);
const STEP_WAIT = Number(process.env.CCP_STEP_WAIT_MS || 15_000);
const WHISPER_MS = 1500;

const launchArgs = ['--disable-gpu', '--disable-dev-shm-usage', '--autoplay-policy=no-user-gesture-required'];
if (typeof process.getuid === 'function' && process.getuid() === 0) launchArgs.push('--no-sandbox');

const browser = await chromium.launch({ executablePath, headless: true, args: launchArgs });
const context = await browser.newContext({ viewport: { width: 440, height: 900 }, deviceScaleFactor: 1 });
try {
  await context.grantPermissions(['notifications'], { origin: new URL(base).origin });
} catch (e) {
  console.log(`(notifications not granted: ${e.message})`);
}
const page = await context.newPage();

const problems = [];
page.on('console', (msg) => {
  const text = msg.text();
  if (msg.type() === 'error' || msg.type() === 'warning') console.log(`[console.${msg.type()}] ${text}`);
  // The page must run under its CSP; the only expected noise is a missing favicon and
  // the API answers the scenario provokes on purpose (the wrong password).
  if (/Content Security Policy|Refused to/i.test(text)) problems.push(`CSP: ${text}`);
});
page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
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
    let banner = '';
    try {
      if (await page.locator('#error-banner').isVisible()) {
        banner = ` [panel error: ${await page.locator('#error-text').innerText()}]`;
      }
    } catch { /* page gone */ }
    try {
      await page.screenshot({ path: join(artifacts, `FAILED-${label}.png`), fullPage: true });
    } catch { /* page gone */ }
    console.log(`@@failed ${name}: ${String(e.message || e).split('\n')[0]}${banner}`);
    console.error(e.stack || String(e));
    await browser.close().catch(() => {});
    process.exit(1);
  }
}

// Fails the step when the panel shows an error banner while waiting for `locator`.
async function until(locator, timeout = STEP_WAIT) {
  const banner = page.locator('#error-banner');
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await locator.first().isVisible().catch(() => false)) return;
    if (await banner.isVisible().catch(() => false)) {
      throw new Error(`the panel shows an error: ${await page.locator('#error-text').innerText()}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${locator}`);
    await page.waitForTimeout(100);
  }
}

const button = (name) => page.getByRole('button', { name, exact: true });
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const quickConnect = (name) => page.getByRole('button', { name: new RegExp(`^Transfer to ${escapeRe(name)} \\(`) });
const connection = (kind, stateLabel) => page.getByRole('listitem', { name: new RegExp(`^${kind} .*, ${stateLabel}$`) });
const stateIs = async (label, css) => {
  await until(page.locator(`#state-bar.${css} #state-name`, { hasText: new RegExp(`^${label}$`) }));
};
const contactCard = (prefix) => page.getByRole('article', { name: new RegExp(`^${prefix}`) });

await step('login-form', async () => {
  await page.goto(base, { waitUntil: 'domcontentloaded' });
  await until(page.getByRole('heading', { name: 'Log in to the Contact Control Panel' }));
  await page.getByLabel('User name', { exact: true }).waitFor();
});

await step('login-wrong-password', async () => {
  await page.getByLabel('User name', { exact: true }).fill('alice');
  await page.getByLabel('Password', { exact: true }).fill('not-her-password');
  await button('Log in').click();
  await until(page.getByRole('alert').filter({ hasText: 'Wrong user name or password' }));
});

await step('login', async () => {
  await page.getByLabel('Password', { exact: true }).fill('demo-alice');
  await page.getByLabel('Password', { exact: true }).press('Enter');
  await until(page.getByRole('heading', { name: 'Alice Anders' }));
  await stateIs('Offline', 'state-offline');
  await until(button('Log out'));
});

await step('available', async () => {
  await page.getByLabel('Status', { exact: true }).selectOption('Available');
  await stateIs('Available', 'state-available');
  // The phone the harness registered for alice.
  await until(page.locator('#phone-line', { hasText: 'Softphone · registered' }));
});

await step('dial-pad', async () => {
  // The number is checked live (GET /api/v1/numbers/format) and shown in E.164.
  await button('Number pad').click();
  const input = page.getByLabel('Number to call', { exact: true });
  const e164 = page.locator('#dial-e164');
  await input.fill('202 555 0199');
  await until(e164.filter({ hasText: 'Will dial +12025550199' }));
  await page.getByLabel('Country', { exact: true }).selectOption('GB');
  await input.fill('020 7946 0018');
  await until(e164.filter({ hasText: 'Will dial +442079460018' }));
  await input.fill('12');
  await until(page.locator('#dial-e164.e164-bad'));
  await page.screenshot({ path: join(artifacts, 'dial-pad-invalid.png'), fullPage: true });
  await input.fill('');
  await page.getByLabel('Country', { exact: true }).selectOption('US');
  await button('Number pad').click();
});

// One inbound call up to Accept: the harness places it when told.
async function takeCall(n) {
  await step(`incoming-${n}`, async () => {
    console.log('@@ready-for-call');
    if (mock) {
      const r = await page.request.post(new URL('__mock/incoming', base).href);
      if (!r.ok()) throw new Error(`mock incoming: HTTP ${r.status()}`);
    }
    await until(contactCard('Incoming call from'), CALL_WAIT);
    await until(button('Accept call'));
    await until(button('Reject call'));
    await stateIs('Incoming', 'state-incoming');
  });

  await step(`accept-${n}`, async () => {
    await button('Accept call').click();
    await until(contactCard('Connected call with'), CALL_WAIT);
    await until(connection('Customer', 'Connected'));
    await stateIs('Busy', 'state-busy');
    // The server shows the contact connected while the agent whisper (the queue's number,
    // under a second) still plays to alice, and refuses a transfer until the customer is
    // bridged ("not connected to you yet"): a person needs longer than that to press on.
    if (!mock) await page.waitForTimeout(WHISPER_MS);
  });
}

async function holdAndResume(n) {
  await step(`hold-${n}`, async () => {
    await button('Hold customer').click();
    await until(connection('Customer', 'On hold'));
    await until(button('Resume customer'));
  });

  await step(`resume-${n}`, async () => {
    await button('Resume customer').click();
    await until(connection('Customer', 'Connected'));
    await until(button('Hold customer'));
  });
}

async function openTransfer(n) {
  await step(`transfer-open-${n}`, async () => {
    await button('Transfer').click();
    await until(page.getByRole('heading', { name: 'Transfer' }));
    await until(quickConnect(handoverTo));
    await until(quickConnect(consultTo));
    // Each quick connect says what it does: the agent stays on the call until Leave.
    for (const name of [handoverTo, consultTo]) {
      const label = await quickConnect(name).getAttribute('aria-label');
      if (!/you stay on the call/.test(label)) throw new Error(`"${name}" is not shown as a consult: ${label}`);
    }
  });
}

async function afterContactWork(n, expectText) {
  await step(`after-contact-work-${n}`, async () => {
    await stateIs('After contact work', 'state-acw');
    if (expectText) await until(contactCard('After contact work').filter({ hasText: expectText }));
    await until(page.locator('.countdown .timer').filter({ hasText: /^\d+:\d\d$/ }));
    await until(button('Clear contact'));
  });

  await step(`clear-${n}`, async () => {
    await button('Clear contact').click();
    await stateIs('Available', 'state-available');
    const left = await page.getByRole('article').count();
    if (left !== 0) throw new Error(`${left} contact card(s) left after Clear`);
  });
}

if (withTransfers) {
  // 1. A queue quick connect: the customer waits on hold while the transfer waits in the
  // queue; the queue's agent (bob) answers; Join, Swap, Leave.
  await takeCall(1);
  await holdAndResume(1);
  await openTransfer(1);
  await step('queue-transfer', async () => {
    await quickConnect(handoverTo).click();
    const third = connection('Third party', '(Connecting|Connected)');
    const acw = contactCard('After contact work');
    await until(third.or(acw));
    if (await acw.isVisible()) {
      throw new Error(`transferring to "${handoverTo}" ended the contact at once: `
        + 'the agent should stay on the line until the queue\'s agent answers');
    }
    await until(connection('Customer', 'On hold'));
    // The queue's agent picks up.
    await until(connection('Third party', 'Connected'), CALL_WAIT);
    await until(button('Join'));
  });

  await step('queue-join', async () => {
    await button('Join').click();
    await until(connection('Customer', 'Connected'));
    await until(connection('Third party', 'Connected'));
  });

  await step('queue-swap', async () => {
    await button('Swap').click();
    await until(page.getByRole('listitem', { name: /, On hold$/ }));
    await until(page.getByRole('listitem', { name: /, Connected$/ }));
  });

  await step('queue-leave', async () => {
    await button('Leave').click();
    await until(contactCard('After contact work').filter({ hasText: `Handed over to ${handoverTo}` }));
  });
  await afterContactWork(1, `Handed over to ${handoverTo}`);

  // 2. An external quick connect: a third party, while the customer waits on hold.
  await takeCall(2);
  await openTransfer(2);
  await step('consult', async () => {
    await quickConnect(consultTo).click();
    const third = connection('Third party', '(Connecting|Connected)');
    const acw = contactCard('After contact work');
    await until(third.or(acw));
    if (await acw.isVisible()) {
      throw new Error(`transferring to "${consultTo}" ended the contact at once: `
        + 'the panel got no third-party connection to Join, Swap, Hold all or Leave');
    }
    await until(connection('Customer', 'On hold'));
    // The far end of the trunk picks up.
    await until(connection('Third party', 'Connected'), CALL_WAIT);
    await until(button('Join'));
  });

  await step('join', async () => {
    await button('Join').click();
    await until(connection('Customer', 'Connected'));
    await until(connection('Third party', 'Connected'));
  });

  await step('swap', async () => {
    // Joined: Swap leaves the agent talking to one party, the other on hold.
    await button('Swap').click();
    await until(page.getByRole('listitem', { name: /, On hold$/ }));
    await until(page.getByRole('listitem', { name: /, Connected$/ }));
  });

  await step('hold-all', async () => {
    await button('Hold all').click();
    await until(connection('Customer', 'On hold'));
    await until(connection('Third party', 'On hold'));
  });

  await step('leave', async () => {
    await button('Join').click();
    await until(connection('Customer', 'Connected'));
    await until(connection('Third party', 'Connected'));
    await button('Leave').click();
    await until(contactCard('After contact work'));
  });
  await afterContactWork(2, null);
}

// 3. Hold, Resume, End.
await takeCall(3);
await holdAndResume(3);
await step('end', async () => {
  await button('End customer').click();
  await until(contactCard('After contact work'));
});
await afterContactWork(3, null);

await step('logout', async () => {
  await button('Log out').click();
  await until(page.getByRole('heading', { name: 'Log in to the Contact Control Panel' }));
});

await browser.close();
if (problems.length) {
  console.log(`@@failed page: ${problems.join(' | ')}`);
  process.exit(1);
}
console.log('@@done');
