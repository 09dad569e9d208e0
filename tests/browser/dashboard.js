// dashboard.js - the coordinator dashboard in headless Debian chromium,
// against the real veldd that dashboard.sh started, with real `veld`
// devices.  Every step is one check; prints "N passed, M failed" and exits
// non-zero if anything failed.  Screenshots go to $ARTIFACTS.
'use strict';

const {chromium} = require('playwright-core');
const {execFileSync, spawn} = require('child_process');
const fs = require('fs');
const path = require('path');
const net = require('net');

const {VELDD, VELD, DATA, TMPDIR, PORT, ARTIFACTS} = process.env;
const URL = `http://127.0.0.1:${PORT}`;
const WS = `ws://127.0.0.1:${PORT}/sync`;
const STEP_MS = 10000; // every wait is bounded

let passed = 0, failed = 0;
function ok(desc) { passed++; console.log(`ok   - ${desc}`); }
function notOk(desc, e) {
	failed++;
	console.log(`FAIL - ${desc}${e ? ': ' + (e.message || e).split('\n')[0] : ''}`);
}
async function check(desc, fn) {
	try {
		const r = await fn();
		if (r === false) notOk(desc);
		else ok(desc);
	} catch (e) {
		notOk(desc, e);
	}
}

function veldd(...args) {
	return execFileSync(VELDD, [...args, '--data', DATA], {encoding: 'utf8'});
}
function code(role, name) {
	const out = veldd('code', 'new', '--role', role, '--name', name, '--area', 'noord');
	return out.trim().split('\n').pop();
}
function veld(dev, ...args) {
	return execFileSync(VELD, ['--dir', path.join(TMPDIR, dev), ...args],
		{encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
}

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
	'--disable-background-networking', '--disable-component-update',
	'--disable-sync'];

async function shot(page, name) {
	await page.screenshot({path: path.join(ARTIFACTS, name + '.png'), fullPage: true});
}

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.listen(0, '127.0.0.1', () => {
			const p = s.address().port;
			s.close(() => resolve(p));
		});
		s.on('error', reject);
	});
}

// A second veldd whose sessions last 2 s (expiry), on its own data dir.
async function shortServer() {
	const port = await freePort();
	const dir = path.join(TMPDIR, 'short');
	const proc = spawn(VELDD, ['serve', '--data', dir, '--listen',
		`127.0.0.1:${port}`, '--session-ttl', '2'], {stdio: 'ignore'});
	const url = `http://127.0.0.1:${port}`;
	for (let i = 0; i < 100; i++) {
		try {
			const r = await fetch(url + '/healthz');
			if (r.ok) break;
		} catch (e) { /* not up yet */ }
		await new Promise((r) => setTimeout(r, 100));
	}
	const c = execFileSync(VELDD, ['code', 'new', '--role', 'coordinator',
		'--name', 'Kort', '--data', dir], {encoding: 'utf8'}).trim().split('\n').pop();
	return {proc, url, code: c};
}

async function main() {
	const browser = await chromium.launch({executablePath: '/usr/bin/chromium',
		args: FLAGS, headless: true});
	const context = await browser.newContext({acceptDownloads: true,
		viewport: {width: 1280, height: 900}});
	const page = await context.newPage();
	const errors = [];
	page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
	page.on('pageerror', (e) => errors.push(String(e)));
	page.on('dialog', (d) => d.accept());
	page.setDefaultTimeout(STEP_MS);

	// --- login ---
	await page.goto(URL + '/');
	await check('login form shown to a stranger', () => page.locator('#login-form').waitFor());
	await shot(page, '01-login');

	await page.fill('#code', 'AAAAA-AAAAA');
	await page.click('#login-form button');
	await check('a wrong code is refused with a message', async () => {
		await page.locator('#login-error', {hasText: 'mislukt'}).waitFor();
		return await page.locator('#nav').isHidden();
	});
	errors.length = 0; // the refused login's 401 is expected in the console

	const fieldCode = code('field', 'Anna');
	await page.fill('#code', fieldCode);
	await page.click('#login-form button');
	await check('a field worker\'s code does not log in', async () => {
		await page.locator('#login-error', {hasText: 'coordinator'}).waitFor();
	});
	errors.length = 0;

	const coord = code('coordinator', 'Carla');
	await page.fill('#code', coord);
	await page.click('#login-form button');
	await check('the coordinator code logs in', async () => {
		await page.locator('#user', {hasText: 'Carla'}).waitFor();
		await page.locator('#records').waitFor();
	});
	await check('the session cookie is HttpOnly and SameSite=Strict', async () => {
		const c = (await context.cookies()).find((x) => x.name === 'veld_session');
		return !!c && c.httpOnly && c.sameSite === 'Strict';
	});
	await check('the page cannot read the cookie', async () =>
		!(await page.evaluate(() => document.cookie)).includes('veld_session'));
	await check('the live feed connects', () =>
		page.locator('#live', {hasText: 'live'}).waitFor());

	// --- a device syncs and the record appears without a reload ---
	await page.evaluate(() => { window.__noReload = 42; });
	veld('A', 'init', '--server', WS, '--code', code('field', 'Ahmed'), '--name', 'Ahmed');
	veld('B', 'init', '--server', WS, '--code', code('field', 'Bea'), '--name', 'Bea');
	veld('A', 'new', 'huisbezoek', 'street=Kerkstraat', 'house_number=12',
		'at_home=ja', 'knows_team=nee', 'followup=bellen',
		'wish=meer bankjes, "graag"', 'consent=ja', 'contact_name=Jan de Vries');
	veld('A', 'sync');
	await check('a record synced by a device appears live', () =>
		page.locator('#records tbody tr', {hasText: 'Kerkstraat'}).waitFor());
	await check('without a reload', async () =>
		(await page.evaluate(() => window.__noReload)) === 42);
	await shot(page, '02-records');

	await check('sorting by street asks the server and marks the column', async () => {
		await page.click('th[data-sort="street"]');
		await page.locator('th.sorted-asc[data-sort="street"]').waitFor();
	});
	await check('the text filter finds the record', async () => {
		await page.fill('input[name="q"]', 'BANKJES');
		await page.press('input[name="q"]', 'Enter');
		await page.locator('#records tbody tr', {hasText: 'Kerkstraat'}).waitFor();
	});
	await check('a filter that matches nothing empties the table', async () => {
		await page.fill('input[name="street"]', 'Nergensstraat');
		await page.press('input[name="street"]', 'Enter');
		await page.locator('#record-count', {hasText: '0 records'}).waitFor();
		await page.fill('input[name="street"]', '');
		await page.press('input[name="street"]', 'Enter');
		await page.locator('#record-count', {hasText: '1 records'}).waitFor();
	});

	// --- a conflict, resolved from the page ---
	const id = (await page.getAttribute('#records tbody tr', 'data-id'));
	veld('B', 'sync');
	veld('A', 'edit', id.slice(0, 8), 'knows_team=ja');
	veld('B', 'edit', id.slice(0, 8), 'knows_team=een beetje');
	veld('A', 'sync');
	veld('B', 'sync');
	await page.goto(URL + '/#conflicts');
	await check('the conflict is listed', () =>
		page.locator(`.conflict-card[data-id="${id}"]`).waitFor());
	await shot(page, '03-conflicts');
	// The answer to the resolve comes late (a busy server): the live
	// update shows the change first, the coordinator moves on to the
	// follow-ups and starts choosing there; the late answer must not
	// redraw that view (checked below, "does not undo a status").
	let releaseResolve;
	const resolveAnswered = new Promise((done) => { releaseResolve = done; });
	await page.route('**/api/records/*/resolve', async (route) => {
		const answer = await route.fetch();
		await page.waitForTimeout(2500);
		await route.fulfill({response: answer});
		releaseResolve();
	});
	await check('resolving it (choosing "ja") clears the conflict', async () => {
		const buttons = page.locator(`.conflict-card[data-id="${id}"] li`);
		const n = await buttons.count();
		let clicked = false;
		for (let i = 0; i < n; i++) {
			const li = buttons.nth(i);
			if ((await li.locator('strong').textContent()) === 'ja') {
				await li.locator('button').click();
				clicked = true;
				break;
			}
		}
		if (!clicked) throw new Error('no "ja" value to choose');
		await page.locator('#no-conflicts').waitFor();
	});
	await check('the resolved value and its attribution are in the record', async () => {
		const r = await (await context.request.get(`${URL}/api/records/${id}`)).json();
		const h = r.history[r.history.length - 1];
		return r.conflicts === 0 && r.values.knows_team === 'ja' &&
			h.role === 'server' && h.by === 'Carla' && h.kind === 'put';
	});

	// --- follow-up status ---
	await page.goto(URL + '/#followups');
	const row = page.locator(`#followups tr[data-id="${id}"]`);
	await check('the record asks for a follow-up (open)', () =>
		row.locator('td.status', {hasText: 'open'}).waitFor());
	await check('a live update does not undo a status being chosen', async () => {
		await row.locator('select[name="status"]').selectOption('in progress');
		await row.locator('input[name="owner"]').fill('Wijkteam Noord');
		// The user looks elsewhere before saving (the focus leaves the
		// controls), and a device adds a note: the page is told live.
		await page.locator('#view h2').first().click();
		veld('A', 'note', id.slice(0, 8), 'Buurman weet ervan');
		veld('A', 'sync');
		await resolveAnswered;
		await page.waitForTimeout(1500);
		return await row.locator('select[name="status"]').inputValue() === 'in progress' &&
			await row.locator('input[name="owner"]').inputValue() === 'Wijkteam Noord';
	});
	await check('changing it to "in progress" with an owner', async () => {
		await row.locator('select[name="status"]').selectOption('in progress');
		await row.locator('input[name="owner"]').fill('Wijkteam Noord');
		await row.locator('button').click();
		await page.locator(`#followups tr[data-id="${id}"] td.status`, {hasText: 'in progress'}).waitFor();
	});
	await shot(page, '04-followups');
	await check('a device sees the new status after syncing', () => {
		veld('B', 'sync');
		const out = veld('B', 'show', id.slice(0, 8));
		return out.includes('in progress') && out.includes('Wijkteam Noord');
	});

	// --- the record with its signed history ---
	await page.goto(URL + '/#record/' + id);
	await check('the record view shows values, notes and history', async () => {
		await page.locator('#values tr[data-field="street"]', {hasText: 'Kerkstraat'}).waitFor();
		await page.locator('#history tbody tr', {hasText: 'Carla'}).first().waitFor();
		return (await page.locator('#history tbody tr').count()) >= 5;
	});
	await check('a note from the page', async () => {
		await page.fill('input[name="note"]', 'Gebeld, terugbellen vrijdag');
		await page.click('text=Notitie toevoegen');
		await page.locator('#notes li', {hasText: 'terugbellen vrijdag'}).waitFor();
	});
	await shot(page, '05-record');

	// --- devices and revoke ---
	await page.goto(URL + '/#devices');
	await check('devices with their last sync', async () => {
		await page.locator('#devices tbody tr', {hasText: 'Ahmed'}).waitFor();
		const t = await page.locator('#devices tbody tr', {hasText: 'Bea'}).textContent();
		return /\d{4}-\d\d-\d\d \d\d:\d\d/.test(t);
	});
	await check('revoking Bea from the page', async () => {
		await page.locator('#devices tbody tr', {hasText: 'Bea'}).locator('button.revoke').click();
		await page.locator('#devices tbody tr', {hasText: 'Bea'}).locator('.badge.revoked').waitFor();
	});
	await shot(page, '06-devices');
	await check('the revoked device can no longer sync', () => {
		try {
			veld('B', 'sync');
			return false;
		} catch (e) {
			return /revoked/i.test(String(e.stderr) + String(e.stdout));
		}
	});

	// --- charts ---
	await page.goto(URL + '/#charts');
	await check('charts are SVG drawn by the page', async () => {
		await page.locator('#charts svg.chart rect.bar').first().waitFor();
		return (await page.locator('#charts svg.chart').count()) >= 2;
	});
	await shot(page, '07-charts');

	// --- CSV download ---
	await page.goto(URL + '/#records');
	await page.locator('#export-csv').waitFor();
	await check('the CSV download has the record, RFC 4180 quoting and personal fields', async () => {
		const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
		const file = path.join(ARTIFACTS, 'export.csv');
		await dl.saveAs(file);
		const csv = fs.readFileSync(file, 'utf8');
		const lines = csv.split('\r\n');
		return dl.suggestedFilename().startsWith('huisbezoek-') &&
			lines[0].startsWith('"id","created"') && lines[0].includes('"contact_name"') &&
			csv.includes('"meer bankjes, ""graag"""') && csv.includes('"Jan de Vries"') &&
			lines[1].includes('"in progress","Wijkteam Noord"') && lines[2] === '';
	});

	// --- refusals ---
	await check('a POST without the CSRF token is refused', async () => {
		const r = await context.request.post(`${URL}/api/records/${id}/followup`, {
			headers: {Origin: URL}, data: {status: 'done'}});
		return r.status() === 403;
	});
	await check('a POST from another origin is refused', async () => {
		const s = await (await context.request.get(`${URL}/api/session`)).json();
		const r = await context.request.post(`${URL}/api/records/${id}/followup`, {
			headers: {Origin: 'http://evil.example', 'X-CSRF-Token': s.csrf},
			data: {status: 'done'}});
		return r.status() === 403;
	});
	await check('a forged cookie is refused', async () => {
		const other = await browser.newContext();
		await other.addCookies([{name: 'veld_session', value: 'A'.repeat(43),
			url: URL}]);
		const r = await other.request.get(`${URL}/api/records`);
		const p = await other.newPage();
		await p.goto(URL + '/');
		await p.locator('#login-form').waitFor();
		await other.close();
		return r.status() === 401;
	});

	await check('no console errors on the way', () => {
		if (errors.length) throw new Error(errors.join(' | '));
	});

	// --- logout: the old cookie is dead ---
	const cookie = (await context.cookies()).find((x) => x.name === 'veld_session').value;
	await page.click('#logout');
	await check('logout shows the login form', () => page.locator('#login-form').waitFor());
	await check('the old cookie is refused after logout', async () => {
		const r = await fetch(`${URL}/api/records`, {headers: {Cookie: 'veld_session=' + cookie}});
		return r.status === 401;
	});

	// --- expiry: a server whose sessions last 2 s ---
	const short = await shortServer();
	try {
		const ctx = await browser.newContext();
		const p = await ctx.newPage();
		p.setDefaultTimeout(STEP_MS);
		await p.goto(short.url + '/');
		await p.fill('#code', short.code);
		await p.click('#login-form button');
		await check('login on the short-session server', () =>
			p.locator('#user', {hasText: 'Kort'}).waitFor());
		await check('an expired session sends the page back to the login', async () => {
			await p.locator('#login-error', {hasText: 'verlopen'}).waitFor({timeout: 8000});
		});
		await check('and the API refuses its cookie', async () =>
			(await ctx.request.get(`${short.url}/api/records`)).status() === 401);
		await shot(p, '08-expired');
		await ctx.close();
	} finally {
		short.proc.kill('SIGTERM');
	}

	await browser.close();
}

main().catch((e) => notOk('the run', e)).finally(() => {
	console.log(`${passed} passed, ${failed} failed`);
	process.exit(failed || !passed ? 1 : 0);
});
