// veldwerk dashboard: plain JavaScript, no framework, no build step.
// Every text from the server goes into the page as a text node (never as
// HTML), so a resident's answer cannot become markup or script.  The API
// is documented in docs/api.md.
'use strict';

const state = {
	session: null, // {name, csrf, expires_in}
	forms: [],
	form: null, // current form name
	sort: 'updated',
	order: 'desc',
	filters: {},
	live: null,
	liveRetry: 0,
	renderSeq: 0,
	refreshTimer: null,
	// The user changed a control in the view (a status chosen, an owner
	// typed) and has not saved or left it: live refreshes wait, or they
	// would put the control back to what the server has.
	edited: false,
};

// --- small helpers ---

function el(tag, attrs, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false) continue;
		if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
		else if (k === 'text') e.textContent = v;
		else e.setAttribute(k, v === true ? '' : v);
	}
	for (const c of children.flat()) {
		if (c === null || c === undefined) continue;
		e.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return e;
}

function svg(tag, attrs, ...children) {
	const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
	for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
	for (const c of children) e.append(c instanceof Node ? c : String(c));
	return e;
}

function $(id) { return document.getElementById(id); }

// A field value as people read it.
function show(v) {
	if (v === null || v === undefined) return '';
	if (Array.isArray(v)) return v.map(show).join(', ');
	if (v === true) return 'ja';
	if (v === false) return 'nee';
	if (typeof v === 'object') return JSON.stringify(v);
	return String(v);
}

function when(iso) {
	if (!iso) return '—';
	return iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, '');
}

function short(hex) { return hex ? hex.slice(0, 8) : ''; }

class HttpError extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

async function api(path) {
	const res = await fetch(path, {credentials: 'same-origin'});
	if (res.status === 401) {
		showLogin('Uw sessie is verlopen; log opnieuw in.');
		throw new HttpError(401, 'not logged in');
	}
	const body = await res.json();
	if (!res.ok) throw new HttpError(res.status, body.error || res.statusText);
	return body;
}

async function post(path, data) {
	const res = await fetch(path, {
		method: 'POST',
		credentials: 'same-origin',
		headers: {
			'Content-Type': 'application/json',
			'X-CSRF-Token': state.session ? state.session.csrf : '',
		},
		body: JSON.stringify(data || {}),
	});
	const body = await res.json();
	if (res.status === 401) showLogin('Uw sessie is verlopen; log opnieuw in.');
	if (!res.ok) throw new HttpError(res.status, body.error || res.statusText);
	return body;
}

function formDef(name) {
	return state.forms.find((f) => f.name === name) || null;
}

const EXTRA_LABELS = {
	followup_status: 'Opvolging: status',
	followup_owner: 'Opvolging: eigenaar',
};

function fieldLabel(form, field) {
	if (EXTRA_LABELS[field]) return EXTRA_LABELS[field];
	const def = formDef(form);
	const f = def && def.fields.find((x) => x.name === field);
	return (f && f.label) || field;
}

// --- login ---

function showLogin(message) {
	state.session = null;
	closeLive();
	$('nav').hidden = true;
	$('who').hidden = true;
	$('view').hidden = true;
	$('login').hidden = false;
	$('login-error').textContent = message || '';
	$('code').focus();
}

async function login(ev) {
	ev.preventDefault();
	$('login-error').textContent = '';
	try {
		const res = await fetch('/api/login', {
			method: 'POST',
			credentials: 'same-origin',
			headers: {'Content-Type': 'application/json'},
			body: JSON.stringify({code: $('code').value}),
		});
		const body = await res.json();
		if (!res.ok) {
			$('login-error').textContent = 'Inloggen mislukt: ' + body.error;
			return;
		}
		$('code').value = '';
		await start(body);
	} catch (e) {
		$('login-error').textContent = 'Inloggen mislukt: ' + e.message;
	}
}

async function logout() {
	try {
		await post('/api/logout');
	} finally {
		showLogin('U bent uitgelogd.');
	}
}

async function start(session) {
	state.session = session;
	$('login').hidden = true;
	$('nav').hidden = false;
	$('who').hidden = false;
	$('view').hidden = false;
	$('user').textContent = session.name;
	state.forms = await api('/api/forms');
	if (!state.form && state.forms.length) state.form = state.forms[0].name;
	openLive();
	await render();
}

// --- live updates ---

function setLive(on) {
	$('live').textContent = on ? 'live' : 'offline';
	$('live').className = 'live ' + (on ? 'on' : 'off');
}

function openLive() {
	if (state.live || !state.session) return;
	const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
	const ws = new WebSocket(scheme + '//' + location.host + '/live',
		'veld-live');
	state.live = ws;
	ws.onopen = () => { state.liveRetry = 0; setLive(true); };
	ws.onmessage = () => scheduleRefresh();
	ws.onclose = () => {
		state.live = null;
		setLive(false);
		if (!state.session) return;
		// Reconnect, slower each time (at most every 30 s); a session
		// that ended shows up as a 401 on the next refresh.
		const wait = Math.min(30000, 1000 * 2 ** state.liveRetry++);
		setTimeout(openLive, wait);
		scheduleRefresh();
	};
}

function closeLive() {
	if (state.live) {
		const ws = state.live;
		state.live = null;
		ws.onclose = null;
		ws.close();
	}
	setLive(false);
}

function scheduleRefresh() {
	clearTimeout(state.refreshTimer);
	state.refreshTimer = setTimeout(() => {
		state.forms && api('/api/forms').then((f) => { state.forms = f; })
			.then(() => render(true)).catch(reportError);
	}, 150);
}

function reportError(e) {
	if (e instanceof HttpError && e.status === 401) return;
	const v = $('view');
	v.prepend(el('p', {class: 'error', role: 'alert', text: 'Fout: ' + e.message}));
}

// --- routing ---

function route() {
	const h = location.hash.replace(/^#/, '') || 'records';
	const [view, arg] = h.split('/');
	return {view, arg};
}

async function render(live) {
	if (!state.session) return;
	const {view, arg} = route();
	for (const a of document.querySelectorAll('nav a'))
		a.classList.toggle('active', a.dataset.view === view);
	const views = {
		records: viewRecords,
		record: viewRecord,
		conflicts: viewConflicts,
		followups: viewFollowups,
		devices: viewDevices,
		charts: viewCharts,
	};
	const fn = views[view] || viewRecords;
	// A live refresh must not throw away what the user is typing or has
	// chosen: it waits until they save or leave (a render that is not live).
	if (live && (state.edited || (document.activeElement &&
	    ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement.tagName) &&
	    $('view').contains(document.activeElement))))
		return;
	if (!live)
		state.edited = false;
	// Renders overlap (a live refresh still loading when a filter
	// changes): only the latest one may replace the view, or an older,
	// slower answer would show stale rows.
	const seq = ++state.renderSeq;
	try {
		const content = await fn(arg);
		if (seq !== state.renderSeq) return;
		// The user may have started changing something while this
		// live refresh was loading.
		if (live && state.edited) return;
		const v = $('view');
		// Keep what is being typed: the field with the focus comes back
		// with its text and the focus.
		const a = document.activeElement;
		const typing = a && a.name && a.tagName === 'INPUT' &&
			v.contains(a) ? {name: a.name, value: a.value} : null;
		v.replaceChildren(content);
		v.dataset.view = view;
		if (typing) {
			const b = v.querySelector(`input[name="${typing.name}"]`);
			if (b) {
				b.value = typing.value;
				b.focus();
			}
		}
	} catch (e) {
		if (seq === state.renderSeq) reportError(e);
	}
}

// --- views ---

function formSelect(onchange) {
	return el('label', {}, 'Formulier',
		el('select', {id: 'form-select', onchange: (e) => {
			state.form = e.target.value;
			onchange();
		}}, state.forms.map((f) => el('option', {
			value: f.name, selected: f.name === state.form,
		}, f.title || f.name))));
}

function filterInput(name, label, type, options) {
	const value = state.filters[name] || '';
	const set = (e) => {
		state.filters[name] = e.target.value;
		render();
	};
	if (options)
		return el('label', {}, label, el('select', {name, onchange: set},
			el('option', {value: ''}, 'alle'),
			options.map((o) => el('option', {value: o, selected: o === value}, o))));
	// Enter applies the filter even when the field was re-drawn while
	// being typed in (then no change event would come).
	const enter = (e) => { if (e.key === 'Enter') set(e); };
	return el('label', {}, label,
		el('input', {name, type, value, onchange: set, onkeydown: enter}));
}

function recordQuery(extra) {
	const p = new URLSearchParams();
	if (state.form) p.set('form', state.form);
	for (const [k, v] of Object.entries(state.filters)) if (v) p.set(k, v);
	p.set('sort', state.sort);
	p.set('order', state.order);
	for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
	return p.toString();
}

function downloads() {
	const f = encodeURIComponent(state.form || '');
	return el('p', {class: 'downloads'}, 'Exporteren: ',
		el('a', {href: `/api/export?form=${f}&format=csv`, download: '', id: 'export-csv'}, 'CSV'),
		el('a', {href: `/api/export?form=${f}&format=csv-excel`, download: ''}, 'CSV voor Excel'),
		el('a', {href: `/api/export?form=${f}&format=json`, download: ''}, 'JSON'));
}

function sortHeader(key, label) {
	const cls = ['sortable'];
	if (state.sort === key) cls.push('sorted-' + state.order);
	return el('th', {class: cls.join(' '), 'data-sort': key, onclick: () => {
		if (state.sort === key) state.order = state.order === 'asc' ? 'desc' : 'asc';
		else { state.sort = key; state.order = 'asc'; }
		render();
	}}, label);
}

function flags(r) {
	const out = [];
	if (r.conflicts) out.push(el('span', {class: 'badge conflict'}, `${r.conflicts} conflict`));
	if (r.delete_conflict) out.push(el('span', {class: 'badge conflict'}, 'verwijderd + bewerkt'));
	if (r.deleted) out.push(el('span', {class: 'badge'}, 'verwijderd'));
	if (r.erased) out.push(el('span', {class: 'badge erased'}, 'gewist'));
	return out;
}

async function viewRecords() {
	if (!state.forms.length)
		return el('div', {}, el('h2', {}, 'Records'),
			el('p', {}, 'Nog geen formulieren: importeer er een met veldd form import.'));
	const def = formDef(state.form);
	const extra = def.fields.filter((f) => !['street', 'followup'].includes(f.name)).slice(0, 4);
	const rows = await api('/api/records?' + recordQuery());
	return el('div', {},
		el('h2', {}, 'Records'),
		el('div', {class: 'filters'},
			formSelect(render),
			filterInput('area', 'Gebied', 'text'),
			filterInput('street', 'Straat', 'text'),
			filterInput('followup', 'Opvolging', null, ['open', 'in progress', 'done']),
			filterInput('from', 'Vanaf', 'date'),
			filterInput('to', 'Tot en met', 'date'),
			filterInput('q', 'Zoeken', 'search')),
		downloads(),
		el('p', {class: 'muted', id: 'record-count'}, `${rows.length} records`),
		el('table', {id: 'records'},
			el('thead', {}, el('tr', {},
				sortHeader('updated', 'Bijgewerkt'),
				sortHeader('street', 'Straat'),
				sortHeader('area', 'Gebied'),
				extra.map((f) => el('th', {}, f.label || f.name)),
				sortHeader('followup', 'Vervolg'),
				el('th', {}, 'Status'),
				sortHeader('conflicts', ''))),
			el('tbody', {}, rows.map((r) => el('tr', {
				class: 'clickable', 'data-id': r.id,
				onclick: () => { location.hash = 'record/' + r.id; },
			},
			el('td', {}, when(r.updated)),
			el('td', {}, show(r.street)),
			el('td', {}, show(r.area)),
			extra.map((f) => el('td', {}, r.erased ? '[gewist]' : show(r.values[f.name]))),
			el('td', {}, show(r.followup)),
			el('td', {}, show(r.followup_status)),
			el('td', {}, flags(r)))))));
}

// After an action's answer, redraw only if the user is still on the view
// where they acted: an answer that comes late (a busy server) must not
// redraw the view they have moved on to and throw away what they are
// choosing there (a live update has shown the change already).
function stillOn(hash) {
	return location.hash === hash;
}

function followupControl(r, onDone) {
	const status = el('select', {name: 'status'},
		['open', 'in progress', 'done'].map((s) =>
			el('option', {value: s, selected: s === (r.followup_status || 'open')}, s)));
	const owner = el('input', {name: 'owner', placeholder: 'eigenaar',
		value: r.followup_owner || state.session.name});
	const msg = el('span', {class: 'muted'});
	return el('span', {class: 'followup-control'}, status, ' ', owner, ' ',
		el('button', {type: 'button', onclick: async () => {
			const at = location.hash;
			try {
				const body = {status: status.value};
				if (owner.value) body.owner = owner.value;
				await post(`/api/records/${r.id}/followup`, body);
				msg.textContent = 'opgeslagen';
				if (onDone && stillOn(at)) onDone();
			} catch (e) {
				msg.textContent = 'fout: ' + e.message;
			}
		}}, 'Opslaan'), ' ', msg);
}

function resolveButtons(rec, field, values, onDone) {
	return el('ul', {class: 'value-list'}, values.map((v) => el('li', {},
		el('strong', {}, show(v.value)), ' ',
		el('span', {class: 'muted'}, `${v.device || short(v.author)}${v.by ? ' (' + v.by + ')' : ''}, ${when(v.time)}`),
		' ',
		el('button', {type: 'button', class: 'resolve', 'data-field': field,
			'data-op': v.op, onclick: async () => {
				const at = location.hash;
				try {
					await post(`/api/records/${rec.id}/resolve`, {field, op: v.op});
					if (onDone && stillOn(at)) onDone();
				} catch (e) {
					reportError(e);
				}
			}}, 'Kies deze'))));
}

async function viewRecord(id) {
	const r = await api('/api/records/' + encodeURIComponent(id || ''));
	const def = formDef(r.form);
	const order = def ? def.fields.map((f) => f.name) : [];
	const fields = Object.keys(r.current).sort((a, b) => {
		const ia = order.indexOf(a), ib = order.indexOf(b);
		return (ia < 0 ? 1e9 : ia) - (ib < 0 ? 1e9 : ib) || (a < b ? -1 : 1);
	});
	const personal = new Set(def ? def.fields.filter((f) => f.personal).map((f) => f.name) : []);
	const note = el('input', {name: 'note', placeholder: 'notitie'});
	return el('div', {id: 'record', 'data-id': r.id},
		el('p', {}, el('a', {href: '#records'}, '← alle records')),
		el('h2', {}, `${r.form || '?'}: ${show(r.street) || short(r.id)}`),
		el('p', {class: 'muted'}, `id ${r.id} · gebied ${show(r.area) || '—'} · aangemaakt ${when(r.created)} · bijgewerkt ${when(r.updated)} `, flags(r)),
		el('div', {class: 'card'}, el('h3', {}, 'Waarden'),
			r.erased ? el('p', {}, 'De persoonsgegevens van dit record zijn gewist.') : null,
			el('table', {id: 'values'}, el('tbody', {}, fields.map((f) => {
				const vals = r.current[f];
				return el('tr', {'data-field': f},
					el('th', {}, fieldLabel(r.form, f), personal.has(f) ? ' (persoonlijk)' : ''),
					el('td', {}, vals.length > 1
						? [el('span', {class: 'badge conflict'}, 'conflict'),
							resolveButtons(r, f, vals, () => render())]
						: (vals[0].value === null && r.erased ? '[gewist]' : show(vals[0].value))));
			})))),
		el('div', {class: 'card'}, el('h3', {}, 'Opvolging'),
			r.needs_followup || r.followup_status
				? followupControl(r, () => render())
				: el('p', {class: 'muted'}, 'Geen opvolging gevraagd.')),
		el('div', {class: 'card'}, el('h3', {}, 'Notities'),
			el('ul', {id: 'notes'}, r.notes.map((n) => el('li', {},
				n.erased ? '[gewist]' : n.text, ' ',
				el('span', {class: 'muted'}, `${n.by ? n.by + ' (via server)' : n.device || short(n.author)}, ${when(n.time)}`)))),
			r.erased ? null : el('p', {}, note, ' ', el('button', {type: 'button', onclick: async () => {
				if (!note.value) return;
				const at = location.hash;
				try {
					await post(`/api/records/${r.id}/notes`, {text: note.value});
					if (stillOn(at)) render();
				} catch (e) { reportError(e); }
			}}, 'Notitie toevoegen'))),
		el('div', {class: 'card'}, el('h3', {}, 'Geschiedenis (ondertekend)'),
			el('table', {id: 'history'},
				el('thead', {}, el('tr', {}, ['Tijd', 'Soort', 'Apparaat', 'Door', '#', 'Status', 'Inhoud'].map((h) => el('th', {}, h)))),
				el('tbody', {}, r.history.map((h) => el('tr', {},
					el('td', {class: 'time'}, when(h.time)),
					el('td', {}, h.kind),
					el('td', {}, h.role === 'server' ? 'server' : `${h.device || short(h.author)} (${h.role || '?'})`),
					el('td', {}, h.by || ''),
					el('td', {}, h.seq),
					el('td', {}, h.status),
					el('td', {}, h.content === null ? '[gewist]'
						: el('pre', {class: 'content'}, JSON.stringify(h.content.set || h.content.text || h.content)))))))));
}

async function viewConflicts() {
	const rows = await api('/api/conflicts?limit=50');
	const details = await Promise.all(rows.map((r) => api('/api/records/' + r.id)));
	return el('div', {},
		el('h2', {}, 'Conflicten'),
		details.length ? null : el('p', {id: 'no-conflicts'}, 'Geen conflicten.'),
		details.map((r) => el('div', {class: 'card conflict-card', 'data-id': r.id},
			el('h3', {}, el('a', {href: '#record/' + r.id}, `${r.form}: ${show(r.street) || short(r.id)}`)),
			r.delete_conflict ? el('p', {}, 'Verwijderd terwijl iemand anders het bewerkte.') : null,
			Object.entries(r.current).filter(([, v]) => v.length > 1).map(([f, v]) =>
				el('div', {}, el('strong', {}, fieldLabel(r.form, f)),
					resolveButtons(r, f, v, () => render()))))));
}

async function viewFollowups() {
	const status = state.filters.fstatus || '';
	const rows = await api('/api/followups' + (status ? '?followup=' + encodeURIComponent(status) : ''));
	return el('div', {},
		el('h2', {}, 'Opvolging'),
		el('div', {class: 'filters'}, el('label', {}, 'Status', el('select', {name: 'fstatus', onchange: (e) => {
			state.filters.fstatus = e.target.value;
			render();
		}}, el('option', {value: ''}, 'alle'), ['open', 'in progress', 'done'].map((s) =>
			el('option', {value: s, selected: s === status}, s))))),
		el('table', {id: 'followups'},
			el('thead', {}, el('tr', {}, ['Straat', 'Formulier', 'Vervolg', 'Status', 'Eigenaar', 'Wijzigen'].map((h) => el('th', {}, h)))),
			el('tbody', {}, rows.map((r) => el('tr', {'data-id': r.id},
				el('td', {}, el('a', {href: '#record/' + r.id}, show(r.street) || short(r.id))),
				el('td', {}, r.form),
				el('td', {}, show(r.followup)),
				el('td', {class: 'status'}, show(r.followup_status)),
				el('td', {}, show(r.followup_owner)),
				el('td', {}, followupControl(r, () => render())))))));
}

async function viewDevices() {
	const rows = await api('/api/devices');
	return el('div', {},
		el('h2', {}, 'Apparaten'),
		el('table', {id: 'devices'},
			el('thead', {}, el('tr', {}, ['Naam', 'Rol', 'Gebied', 'Status', 'Laatste sync', 'Laatste invoer', 'Ops', 'Forks', ''].map((h) => el('th', {}, h)))),
			el('tbody', {}, rows.map((d) => el('tr', {'data-key': d.key},
				el('td', {}, d.name),
				el('td', {}, d.role),
				el('td', {}, show(d.area)),
				el('td', {}, d.status === 'revoked'
					? el('span', {class: 'badge revoked'}, 'ingetrokken ' + when(d.revoked))
					: 'actief'),
				el('td', {}, when(d.last_sync)),
				el('td', {}, when(d.last_op)),
				el('td', {}, d.seq),
				el('td', {}, d.frozen ? el('span', {class: 'badge conflict'}, `fork bij #${d.fork_seq}`) : String(d.forks)),
				el('td', {}, d.status === 'revoked' ? '' : el('button', {type: 'button', class: 'revoke', onclick: async () => {
					if (!confirm(`Apparaat '${d.name}' intrekken? Het kan daarna niets meer schrijven en wist zijn gegevens bij de volgende sync.`))
						return;
					const at = location.hash;
					try {
						await post(`/api/devices/${d.key}/revoke`);
						if (stillOn(at)) render();
					} catch (e) { reportError(e); }
				}}, 'Intrekken')))))));
}

// A horizontal bar chart: items [{label, n}].
function barChart(title, items) {
	const w = 560, rowH = 22, left = 190, top = 8;
	const max = Math.max(1, ...items.map((i) => i.n));
	const h = top * 2 + Math.max(1, items.length) * rowH;
	const chart = svg('svg', {class: 'chart', width: w, height: h,
		viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': title});
	items.forEach((it, i) => {
		const y = top + i * rowH;
		const bw = Math.round((w - left - 50) * it.n / max);
		const label = it.label.length > 28 ? it.label.slice(0, 27) + '…' : it.label;
		chart.append(
			svg('text', {x: 4, y: y + 15}, label),
			svg('rect', {class: 'bar', x: left, y: y + 3, width: Math.max(bw, 1), height: rowH - 6}),
			svg('text', {x: left + bw + 6, y: y + 15}, String(it.n)));
	});
	if (!items.length) chart.append(svg('text', {x: 4, y: 22}, 'nog geen gegevens'));
	return el('div', {class: 'card'}, el('h3', {}, title), chart);
}

async function viewCharts() {
	if (!state.form) return el('p', {}, 'Geen formulieren.');
	const c = await api('/api/counts?form=' + encodeURIComponent(state.form));
	return el('div', {id: 'charts'},
		el('h2', {}, 'Grafieken'),
		el('div', {class: 'filters'}, formSelect(render)),
		el('p', {class: 'muted'}, `${c.total} records`),
		barChart('Per straat', c.streets.map((s) => ({label: s.street || '(geen straat)', n: s.n}))),
		c.fields.map((f) => barChart(f.label || f.name,
			f.counts.map((x) => ({label: show(x.value), n: x.n})))));
}

// --- start ---

document.addEventListener('DOMContentLoaded', async () => {
	$('login-form').addEventListener('submit', login);
	$('logout').addEventListener('click', logout);
	window.addEventListener('hashchange', () => render());
	// Any change to a control in the view marks it edited (see state).
	for (const type of ['input', 'change'])
		document.addEventListener(type, (e) => {
			if ($('view').contains(e.target) &&
			    !e.target.closest('.filters'))
				state.edited = true;
		}, true);
	const s = await (await fetch('/api/session', {credentials: 'same-origin'})).json();
	if (s.name) await start(s);
	else showLogin('');
});
