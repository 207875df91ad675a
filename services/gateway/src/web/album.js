// The album and its order form (served at /album/album.js; the page is web/album.rs).
// Talks to /api/v1 like any client. The editor is album_editor.js (window.AlbumEditor).
'use strict';
(() => {
const DATA = JSON.parse(document.getElementById('album-data').textContent);
const W = DATA.words;
const csrf = document.querySelector('meta[name=csrf]').content;
const H = {'x-csrf-token': csrf, 'content-type': 'application/json'};
const $ = (s) => document.querySelector(s);
const $$ = (s) => [...document.querySelectorAll(s)];
const say = (key, args) => {
  let s = W[key] || key;
  // Fluent leaves an argument it was not given as {$name}: the script fills it in.
  for (const [k, v] of Object.entries(args || {})) s = s.split('{$' + k + '}').join(String(v));
  return s;
};
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
};

// Money as reprint_ui::money writes it: ¥1,250, €12.50.
const DIGITS = {JPY: 0, KRW: 0};
const SIGN = {JPY: '¥', EUR: '€', USD: '$', GBP: '£'};
function money(m) {
  if (!m) return '';
  const d = DIGITS[m.currency] ?? 2, abs = Math.abs(m.minor), scale = 10 ** d;
  const whole = String(Math.floor(abs / scale)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const num = d ? `${whole}.${String(abs % scale).padStart(d, '0')}` : whole;
  const sign = m.minor < 0 ? '-' : '';
  return SIGN[m.currency] ? `${sign}${SIGN[m.currency]}${num}` : `${sign}${num} ${m.currency}`;
}
function localTime(iso, tz) {
  try {
    const opts = {year: 'numeric', month: DATA.lang === 'ja' ? 'numeric' : 'short', day: 'numeric',
      hour: '2-digit', minute: '2-digit', hour12: false, timeZone: tz || undefined};
    return new Intl.DateTimeFormat(DATA.lang === 'ja' ? 'ja-JP' : 'en-GB', opts).format(new Date(iso));
  } catch (e) { return iso; }
}

async function api(method, path, body) {
  const r = await fetch(path, {method, headers: H, body: body ? JSON.stringify(body) : undefined});
  const j = r.status === 204 ? {} : await r.json().catch(() => ({}));
  if (!r.ok) { const e = new Error(j.detail || r.statusText); e.status = r.status; throw e; }
  return j;
}

// ---- the photos and the selection ----
const photos = new Map(DATA.photos.map((p) => [p.image, p]));
const sizes = new Map(DATA.sizes.map((s) => [s.code, s]));
const sites = new Map([...DATA.labs, ...DATA.counters].map((s) => [s.id, s]));
// image -> {image, size, qty, rot, crop: {x,y,w,h} | null, lowOk}
const items = new Map();
const catalogs = new Map(); // site id -> CatalogReply | 'failed'

function labSizes() {
  const lab = sites.get($('#lab').value);
  return lab ? lab.sizes.filter((s) => sizes.has(s)) : [...sizes.keys()];
}
function defaultSize() { const s = labSizes(); return s.includes('L') ? 'L' : (s[0] || 'L'); }

function select(image, on) {
  const card = document.querySelector(`.card[data-image="${image}"]`);
  if (on && !items.has(image)) items.set(image, {image, size: defaultSize(), qty: 1, rot: 0, crop: null, lowOk: false});
  if (!on) items.delete(image);
  if (card) { card.classList.toggle('selected', on); card.querySelector('.pick-box').checked = on; }
  renderItems();
}

// The print's dots per inch on paper for an item (fill: the paper covered, the crop at its aspect).
function dpiOf(it) {
  const p = photos.get(it.image), s = sizes.get(it.size);
  if (!p || !s) return 0;
  let w = p.w, h = p.h;
  if (it.rot === 90 || it.rot === 270) [w, h] = [h, w];
  if (it.crop) { w *= it.crop.w; h *= it.crop.h; }
  const long = Math.max(w, h), short = Math.min(w, h);
  return Math.floor(Math.min(long / s.long_in, short / s.short_in));
}
window.AlbumDpi = dpiOf;
// The chosen lab's printer profile for a size (its catalog's printer_profiles), for the
// editor's soft proof; null when the lab does not list one.
window.AlbumProof = (size) => {
  const lab = $('#lab').value, cat = catalogs.get(lab);
  if (!cat || cat === 'failed') return null;
  const p = (cat.printer_profiles || []).find((q) => (q.sizes || []).includes(size) && q.icc);
  return p ? {lab, name: p.name, paper: p.paper || p.description} : null;
};

function renderItems() {
  const body = $('#items');
  body.replaceChildren();
  const allowed = labSizes();
  for (const it of items.values()) {
    const p = photos.get(it.image);
    if (!p) continue;
    if (!allowed.includes(it.size)) it.size = defaultSize();
    const dpi = dpiOf(it), low = dpi < DATA.minDpi;
    const sel = el('select', {'aria-label': `${say('album-size')}: ${p.name}`, onchange: (e) => { it.size = e.target.value; it.crop = null; it.lowOk = false; changed(); }},
      ...allowed.map((c) => el('option', {value: c, selected: c === it.size, text: `${c} (${sizes.get(c).mm})`})));
    const qty = el('input', {type: 'number', min: 1, max: 999, value: it.qty, inputmode: 'numeric',
      'aria-label': `${say('album-quantity')}: ${p.name}`,
      oninput: (e) => { const v = Math.round(+e.target.value); if (v >= 1 && v <= 999) { it.qty = v; showTotal(); clearQuote(); } }});
    const notes = [];
    if (it.rot) notes.push(say('album-rotated', {deg: it.rot}));
    if (it.crop) notes.push(say('album-edited'));
    const dpiNote = el('span', {class: 'dpi' + (low ? ' low' : ''), text: say(low ? 'album-dpi-low' : 'album-dpi', {dpi, min: DATA.minDpi}) + (notes.length ? ' · ' + notes.join(', ') : '')});
    const ok = low ? el('label', {class: 'ok'}, el('input', {type: 'checkbox', class: 'low-ok', checked: it.lowOk,
      onchange: (e) => { it.lowOk = e.target.checked; updatePlace(); }}), say('album-dpi-confirm')) : null;
    const tr = el('tr', {'data-image': it.image},
      el('td', {}, el('div', {class: 'thumb'}, el('img', {src: `/api/v1/images/${it.image}/thumbnail`, alt: '', width: 56, height: 56}), el('span', {title: p.name, text: p.name}))),
      el('td', {}, sel, dpiNote, ok),
      el('td', {}, qty),
      el('td', {}, el('div', {class: 'row-actions'},
        el('button', {type: 'button', class: 'quiet edit', text: say('album-edit'), 'aria-label': `${say('album-edit')}: ${p.name}`,
          onclick: () => window.AlbumEditor && window.AlbumEditor.open(it, p, allowed, changed)}),
        el('button', {type: 'button', class: 'quiet', text: '×', 'aria-label': `${say('album-remove')}: ${p.name}`, onclick: () => select(it.image, false)}))));
    body.append(tr);
  }
  $('#orderform').hidden = items.size === 0;
  $('#selected-count').textContent = items.size ? say('album-selected', {count: items.size}) : '';
  showTotal(); clearQuote();
}
function changed() { renderItems(); }

// ---- sites, catalogs, the size guide and the running total ----
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
function dayWords(days) {
  return String(days).split(',').map((part) => part.split('-').map((d) => say('album-day-' + d.trim().toLowerCase())).join('–')).join(', ');
}
async function catalog(id) {
  if (!catalogs.has(id)) {
    try { catalogs.set(id, await api('GET', `/api/v1/sites/${encodeURIComponent(id)}/catalog`)); }
    catch (e) { catalogs.set(id, 'failed'); }
  }
  return catalogs.get(id);
}
function unitPrice(cat, size) {
  if (!cat || cat === 'failed') return null;
  const p = cat.products.find((p) => p.size === size || p.code === `print:${size}`);
  return p ? p.unit_price : null;
}
async function showSite(which) {
  const id = $('#' + which).value, s = sites.get(id), box = $(`#${which}-info`);
  box.replaceChildren();
  if (!s) return;
  box.append(el('p', {text: s.address}));
  const hours = (s.hours || []).map((h) => `${dayWords(h.days)} ${h.opens}–${h.closes}`);
  box.append(el('p', {text: `${say('album-hours')}: ${hours.length ? hours.join('; ') : say('album-no-hours')}`}));
  if (s.stale) box.append(el('p', {class: 'err', text: say('album-offline')}));
  const cat = await catalog(id);
  if (cat === 'failed') box.append(el('p', {class: 'err', text: say('album-catalog-unavailable')}));
  else {
    const prints = cat.products.filter((p) => p.size).map((p) => `${p.size} ${money(p.unit_price)}`);
    box.append(el('p', {text: `${say('album-basic-charge')}: ${money(cat.basic_charge)}` + (prints.length ? ` · ${say('album-per-print')}: ${prints.join(', ')}` : '')}));
  }
  if (s.policy) box.append(el('p', {text: `${say('album-policy')}: ${(cat && cat !== 'failed' && cat.policy_summary) || s.policy}`}));
  if (which === 'lab') { sizeGuide(); showDigital(); showIndex(); renderItems(); }
  showTotal();
}
// The lab's digital copy (its catalog's digital-copy:zip): the box shown only when it sells it.
const DIGITAL = 'digital-copy:zip';
function digitalPrice() {
  const cat = catalogs.get($('#lab').value);
  if (!cat || cat === 'failed') return null;
  const p = cat.products.find((p) => p.code === DIGITAL);
  return p ? p.unit_price : null;
}
function wantsDigital() { return !$('#digital').hidden && $('#digital-copy').checked; }
function showDigital() {
  const p = digitalPrice();
  $('#digital').hidden = !p;
  if (!p) $('#digital-copy').checked = false;
  $('#digital-price').textContent = p ? say('digital-choose-price', {price: money(p)}) : '';
}
// The index print (one sheet of every photo, numbered): once per order, not a size of a photo;
// offered when the chosen lab prints size Index, as one more line naming the first photo.
const INDEX = 'Index';
function wantsIndex() { return !$('#index').hidden && $('#index-print').checked && items.size > 0; }
function showIndex() {
  const lab = sites.get($('#lab').value);
  const offered = !!(lab && lab.sizes.includes(INDEX));
  $('#index').hidden = !offered;
  if (!offered) $('#index-print').checked = false;
  const u = unitPrice(catalogs.get($('#lab').value), INDEX);
  $('#index-price').textContent = u ? say('index-print-price', {price: money(u)}) : '';
}
function sizeGuide() {
  const lab = sites.get($('#lab').value), cat = catalogs.get($('#lab').value);
  for (const tr of $$('#size-rows tr')) {
    const code = tr.dataset.size, price = unitPrice(cat, code);
    const prints = lab ? lab.sizes.includes(code) : false;
    tr.querySelector('.price').textContent = price ? money(price) : (prints ? '—' : say('album-not-printed'));
  }
}
function showTotal() {
  const out = $('#total');
  const lab = catalogs.get($('#lab').value), counter = catalogs.get($('#counter').value);
  if (!items.size) { out.textContent = ''; return; }
  if (!lab || lab === 'failed') { out.textContent = ''; return; }
  let minor = lab.basic_charge.minor, count = 0, known = true;
  if (counter && counter !== 'failed' && counter.basic_charge.currency === lab.basic_charge.currency) minor += counter.basic_charge.minor;
  for (const it of items.values()) {
    const u = unitPrice(lab, it.size);
    count += it.qty;
    if (u) minor += u.minor * it.qty; else known = false;
  }
  const digital = digitalPrice();
  if (wantsDigital() && digital) minor += digital.minor;
  if (wantsIndex()) { const u = unitPrice(lab, INDEX); count += 1; if (u) minor += u.minor; else known = false; }
  out.textContent = say('album-estimate', {count, amount: money({minor, currency: lab.basic_charge.currency})}) + ' ' + say('album-estimate-note');
  if (!known) out.textContent += '';
}

// ---- the draft order (made only when needed) ----
let draft = null; // {order, used}
async function ensureDraft() {
  if (!draft) draft = await api('POST', '/api/v1/album/draft');
  return draft;
}
async function withDraft(f) {
  await ensureDraft();
  try { return await f(draft.order); }
  catch (e) {
    if (e.status === 409 || e.status === 404) { draft = null; await ensureDraft(); return await f(draft.order); }
    throw e;
  }
}

// ---- uploads ----
function put(file, url, bar) {
  return new Promise((ok, fail) => {
    const x = new XMLHttpRequest();
    x.open('PUT', url); x.setRequestHeader('x-csrf-token', csrf);
    x.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; };
    x.onload = () => { let j = {}; try { j = JSON.parse(x.responseText || '{}'); } catch (e) {}
      if (x.status < 300) { bar.value = 1; ok(j); } else fail(new Error(j.detail || x.status)); };
    x.onerror = () => fail(new Error(say('album-upload-failed')));
    x.send(file);
  });
}
async function upload(files) {
  files = [...files]; if (!files.length) return;
  $('#msg').textContent = '';
  try {
    await withDraft(async (order) => {
      const need = files.reduce((n, f) => n + f.size, 0) + (draft.used || 0);
      await api('PUT', `/api/v1/orders/${order}/storage`, {bytes: need});
    });
  } catch (e) { $('#msg').textContent = `${say('album-no-reservation')} ${e.message}`; return; }
  await Promise.all(files.map(async (f) => {
    const row = el('div', {class: 'upload'}, el('span', {text: f.name, title: f.name}),
      el('progress', {max: 1, value: 0, 'aria-label': f.name}), el('em', {text: say('album-uploading')}));
    $('#progress').append(row);
    try {
      const u = await put(f, `/api/v1/orders/${draft.order}/images?name=${encodeURIComponent(f.name)}`, row.querySelector('progress'));
      draft.used = (draft.used || 0) + (u.stored_now || !photos.has(u.image) ? u.bytes : 0);
      row.querySelector('em').textContent = 'done';
      row.querySelector('em').setAttribute('aria-label', say('album-done'));
      addCard(u);
      select(u.image, true);
    } catch (e) { const em = row.querySelector('em'); em.textContent = e.message; em.className = 'err'; }
  }));
}
function addCard(u) {
  if (photos.has(u.image)) return;
  photos.set(u.image, {image: u.image, name: u.name, w: u.width, h: u.height, bytes: u.bytes});
  const card = el('li', {class: 'card', 'data-image': u.image},
    el('label', {class: 'pick'},
      el('input', {class: 'pick-box', type: 'checkbox', value: u.image, 'aria-label': `${say('album-photo')} ${u.name}`}),
      el('img', {src: `/api/v1/images/${u.image}/thumbnail`, alt: u.name, width: 160, height: 120})),
    el('div', {class: 'caption'},
      el('p', {class: 'name', title: u.name, text: u.name}),
      el('p', {class: 'meta', text: `${u.width} x ${u.height} · ${say('album-uploaded-now')}`})));
  $('#grid').prepend(card);
  const empty = $('#empty'); if (empty) empty.remove();
  $('#count').textContent = `(${photos.size})`;
}

// ---- quote and order ----
function request() {
  const lines = [...items.values()].map((it) => {
    const edits = [];
    if (it.rot) edits.push({op: 'rotate', degrees: it.rot});
    if (it.crop) edits.push({op: 'crop', x: it.crop.x, y: it.crop.y, width: it.crop.w, height: it.crop.h});
    return {image: it.image, size: it.size, quantity: it.qty, edits: edits.length ? edits : null};
  });
  // One index line per order (the order check allows one), naming the first photo.
  if (wantsIndex()) lines.push({image: lines[0].image, size: INDEX, quantity: 1, edits: null});
  return {lab: $('#lab').value, counter: $('#counter').value, digital_copy: wantsDigital(), items: lines};
}
window.AlbumEdits = (it) => {
  const edits = [];
  if (it.rot) edits.push({op: 'rotate', degrees: it.rot});
  if (it.crop) edits.push({op: 'crop', x: it.crop.x, y: it.crop.y, width: it.crop.w, height: it.crop.h});
  return edits;
};
let quoted = false;
function clearQuote() { if (quoted) { $('#quoted').replaceChildren(); quoted = false; } updatePlace(); }
function updatePlace() {
  const lowPending = [...items.values()].some((it) => dpiOf(it) < DATA.minDpi && !it.lowOk);
  $('#place').disabled = !quoted || lowPending || items.size === 0;
  $('#place').title = lowPending ? say('album-confirm-low') : '';
}
function lineWords(l, charge) {
  const k = l.kind;
  if (k === 'basic_charge') return say('album-line-basic');
  if (k === 'digital_copy') return say('digital-line');
  if (k && k.prints && k.prints.size === INDEX) return say('index-print-line', {count: k.prints.quantity, price: money(k.prints.unit_price)});
  if (k && k.prints) { const p = photos.get(k.prints.image); return say('album-line-prints', {count: k.prints.quantity, size: k.prints.size, name: p ? p.name : '', price: money(k.prints.unit_price)}); }
  if (k && k.discount) return say('album-line-discount', {percent: k.discount.percent});
  return '';
}
function siteQuote(q) {
  const s = sites.get(q.site), name = s ? s.name : '';
  const rows = q.charge.lines.map((l) => {
    const disc = l.kind && l.kind.discount;
    return el('tr', {class: disc ? 'discount' : ''},
      // The site's own words; in another language than theirs (English), what the line is too.
      el('td', {}, DATA.lang === 'en' ? null : el('span', {class: 'kind', text: lineWords(l, q.charge) + ' '}), el('span', {text: l.description})),
      el('td', {class: 'amount', text: money(l.amount)}));
  });
  const ready = q.estimated_finish ? el('p', {text: say('album-ready-about', {time: localTime(q.estimated_finish, s && s.tz)})}) : null;
  return el('div', {}, el('h3', {text: name}),
    el('div', {class: 'scroll'}, el('table', {}, el('tbody', {}, ...rows,
      el('tr', {}, el('th', {scope: 'row', text: '∑'}), el('th', {class: 'amount', text: money(q.charge.total)}))))), ready);
}
$('#quote').addEventListener('click', async () => {
  const out = $('#quoted');
  out.replaceChildren(el('p', {text: '…'}));
  try {
    const q = await withDraft((order) => api('POST', `/api/v1/orders/${order}/quote`, request()));
    out.replaceChildren(siteQuote(q.lab), siteQuote(q.counter),
      q.total ? el('p', {class: 'due'}, el('strong', {text: say('album-to-pay', {amount: money(q.total)})})) : null);
    quoted = true;
  } catch (e) { out.replaceChildren(el('p', {class: 'err', role: 'alert', text: e.message})); quoted = false; }
  updatePlace();
});
$('#place').addEventListener('click', async () => {
  const out = $('#quoted');
  if ([...items.values()].some((it) => dpiOf(it) < DATA.minDpi && !it.lowOk)) { out.append(el('p', {class: 'err', role: 'alert', text: say('album-confirm-low')})); return; }
  $('#place').disabled = true;
  try {
    const order = (await ensureDraft()).order;
    const r = await fetch(`/api/v1/orders/${order}/submit`, {method: 'POST', headers: {...H, 'idempotency-key': order}, body: JSON.stringify(request())});
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(j.detail || r.statusText);
    location.href = `/orders/${order}`;
  } catch (e) { out.append(el('p', {class: 'err', role: 'alert', text: e.message})); $('#place').disabled = false; }
});

// ---- delete, with a confirmation ----
const confirmBox = $('#confirm');
let pendingDelete = null;
document.addEventListener('click', (e) => {
  const b = e.target.closest('button.delete');
  if (!b) return;
  pendingDelete = b.dataset.image;
  $('#confirm-text').textContent = say('album-delete-confirm', {name: b.dataset.name});
  confirmBox.showModal();
});
$('#confirm-no').addEventListener('click', () => { pendingDelete = null; confirmBox.close(); });
$('#confirm-yes').addEventListener('click', async () => {
  const image = pendingDelete; confirmBox.close(); pendingDelete = null;
  if (!image) return;
  try {
    await api('DELETE', `/api/v1/album/${image}`);
    select(image, false);
    photos.delete(image);
    const card = document.querySelector(`.card[data-image="${image}"]`); if (card) card.remove();
    $('#count').textContent = `(${photos.size})`;
    $('#msg').textContent = '';
    $('#progress').replaceChildren(el('p', {role: 'status', text: say('album-deleted')}));
  } catch (err) { $('#msg').textContent = err.message; }
});

// ---- wiring ----
$('#grid').addEventListener('change', (e) => { if (e.target.classList.contains('pick-box')) select(e.target.value, e.target.checked); });
$('#lab').addEventListener('change', () => { clearQuote(); showSite('lab'); });
$('#counter').addEventListener('change', () => { clearQuote(); showSite('counter'); });
$('#digital-copy').addEventListener('change', () => { showTotal(); clearQuote(); });
$('#index-print').addEventListener('change', () => { showTotal(); clearQuote(); });
const drop = $('#drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); upload(e.dataTransfer.files); });
$('#files').addEventListener('change', (e) => upload(e.target.files));
showSite('lab'); showSite('counter');
window.AlbumState = {items, photos, sizes, data: DATA, say, el, renderItems};
})();
