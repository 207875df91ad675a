// The album's editor (served at /album/editor.js): crop to the chosen size's aspect (fill by
// default, drag to place, zoom to crop tighter), rotate by quarter turns, the print's dpi on
// paper live, and the preview of what the lab prints (GET /api/v1/album/{image}/preview: the
// lab's render of the edit list). Only what the order check accepts is made: quarter turns,
// a crop inside the picture.
'use strict';
(() => {
const $ = (s) => document.querySelector(s);
const dlg = $('#editor'), canvas = $('#crop'), ctx = canvas.getContext('2d');
let cur = null;   // {it, photo, done, rot, crop, zoom, size, img}
let timer = null;

function S() { return window.AlbumState; }

// The paper's aspect (long / short) oriented as the rotated picture is.
function frameAspect(w, h, size) {
  const s = S().sizes.get(size);
  const r = s ? s.long_in / s.short_in : 1;
  return w >= h ? r : 1 / r; // width / height of the crop frame
}
function rotated() {
  const p = cur.photo;
  return (cur.rot === 90 || cur.rot === 270) ? [p.h, p.w] : [p.w, p.h];
}
// The largest frame of the paper's aspect inside the picture, scaled down by the zoom, kept at
// its centre (cx, cy) and inside the picture: fractions of the rotated picture.
function fit(cx, cy) {
  const [w, h] = rotated(), a = frameAspect(w, h, cur.size);
  let fw = w, fh = w / a;
  if (fh > h) { fh = h; fw = h * a; }
  fw /= cur.zoom; fh /= cur.zoom;
  const cw = fw / w, ch = fh / h;
  const x = Math.min(Math.max(cx - cw / 2, 0), 1 - cw), y = Math.min(Math.max(cy - ch / 2, 0), 1 - ch);
  const r4 = (v) => Math.floor(v * 10000) / 10000;
  return {x: r4(Math.max(x, 0)), y: r4(Math.max(y, 0)), w: r4(cw), h: r4(ch)};
}
function draw() {
  const [w, h] = rotated();
  const scale = Math.min(480 / w, 360 / h);
  canvas.width = Math.max(1, Math.round(w * scale)); canvas.height = Math.max(1, Math.round(h * scale));
  ctx.save();
  ctx.translate(canvas.width / 2, canvas.height / 2);
  ctx.rotate(cur.rot * Math.PI / 180);
  const [dw, dh] = (cur.rot === 90 || cur.rot === 270) ? [canvas.height, canvas.width] : [canvas.width, canvas.height];
  if (cur.img.complete && cur.img.naturalWidth) ctx.drawImage(cur.img, -dw / 2, -dh / 2, dw, dh);
  ctx.restore();
  const c = cur.crop, X = c.x * canvas.width, Y = c.y * canvas.height, CW = c.w * canvas.width, CH = c.h * canvas.height;
  ctx.fillStyle = 'rgba(0,0,0,0.55)';
  ctx.fillRect(0, 0, canvas.width, Y); ctx.fillRect(0, Y + CH, canvas.width, canvas.height - Y - CH);
  ctx.fillRect(0, Y, X, CH); ctx.fillRect(X + CW, Y, canvas.width - X - CW, CH);
  ctx.strokeStyle = '#fff'; ctx.lineWidth = 2; ctx.strokeRect(X + 1, Y + 1, CW - 2, CH - 2);
  const it = {image: cur.it.image, size: cur.size, rot: cur.rot, crop: cur.crop};
  const dpi = window.AlbumDpi(it), min = S().data.minDpi, low = dpi < min;
  const out = $('#ed-dpi');
  out.textContent = S().say(low ? 'album-dpi-low' : 'album-dpi', {dpi, min});
  out.className = low ? 'low' : '';
  schedulePreview();
}
function edits() {
  return window.AlbumEdits({rot: cur.rot, crop: cur.crop});
}
function schedulePreview() {
  clearTimeout(timer);
  timer = setTimeout(() => {
    const q = new URLSearchParams({size: cur.size, edge: String(Math.min(900, Math.round(320 * (window.devicePixelRatio || 1))))});
    const e = edits(); if (e.length) q.set('edits', JSON.stringify(e));
    // Soft proof through the printer's profile: what the paper shows, colours it cannot hold hatched.
    const pr = window.AlbumProof && window.AlbumProof(cur.size);
    $('#proof-row').hidden = !pr;
    const proof = pr && $('#ed-proof').checked;
    if (proof) { q.set('proof', pr.name); q.set('lab', pr.lab); }
    $('#proof-note').textContent = proof ? S().say('album-proof-note', {paper: pr.paper}) : '';
    $('#preview').src = `/api/v1/album/${cur.it.image}/preview?${q}`;
  }, 250);
}
function centre() { return [cur.crop.x + cur.crop.w / 2, cur.crop.y + cur.crop.h / 2]; }
function open(it, photo, allowed, done) {
  const img = new Image();
  img.src = `/api/v1/images/${it.image}/thumbnail`;
  cur = {it, photo, done, rot: it.rot || 0, size: it.size, zoom: 1, img, crop: null};
  cur.crop = it.crop ? {...it.crop} : fit(0.5, 0.5);
  if (it.crop) { const full = fit(0.5, 0.5); cur.zoom = Math.max(1, Math.min(3, full.w / it.crop.w || 1)); }
  $('#zoom').value = String(cur.zoom);
  const sel = $('#ed-size'); sel.replaceChildren();
  for (const c of allowed) { const o = document.createElement('option'); o.value = c; o.textContent = `${c} (${S().sizes.get(c).mm})`; o.selected = c === cur.size; sel.append(o); }
  $('#editor-name').textContent = photo.name;
  img.onload = draw;
  dlg.showModal();
  draw();
}
function turn(by) {
  cur.rot = (cur.rot + by + 360) % 360;
  cur.crop = fit(0.5, 0.5);
  draw();
}
$('#rot-left').addEventListener('click', () => turn(-90));
$('#rot-right').addEventListener('click', () => turn(90));
$('#ed-size').addEventListener('change', (e) => { cur.size = e.target.value; cur.crop = fit(...centre()); draw(); });
$('#zoom').addEventListener('input', (e) => { cur.zoom = Math.max(1, Math.min(3, +e.target.value || 1)); cur.crop = fit(...centre()); draw(); });
$('#ed-reset').addEventListener('click', () => { cur.rot = 0; cur.zoom = 1; $('#zoom').value = '1'; cur.crop = fit(0.5, 0.5); draw(); });
$('#ed-cancel').addEventListener('click', () => dlg.close());
$('#ed-proof').addEventListener('change', schedulePreview);
$('#ed-done').addEventListener('click', () => {
  const it = cur.it, full = fit(0.5, 0.5);
  it.rot = cur.rot; it.size = cur.size;
  // The centred fill is what the lab does without a crop: no crop is sent for it.
  const same = Math.abs(full.x - cur.crop.x) < 1e-3 && Math.abs(full.y - cur.crop.y) < 1e-3 && Math.abs(full.w - cur.crop.w) < 1e-3;
  it.crop = same ? null : {...cur.crop};
  it.lowOk = false;
  dlg.close();
  cur.done();
});
// Drag to place the frame (pointer: mouse, pen and touch alike); arrow keys move it too.
let drag = null;
canvas.addEventListener('pointerdown', (e) => { canvas.setPointerCapture(e.pointerId); drag = {x: e.clientX, y: e.clientY, c: {...cur.crop}}; });
canvas.addEventListener('pointermove', (e) => {
  if (!drag) return;
  const r = canvas.getBoundingClientRect();
  const dx = (e.clientX - drag.x) / r.width, dy = (e.clientY - drag.y) / r.height;
  cur.crop = fit(drag.c.x + drag.c.w / 2 + dx, drag.c.y + drag.c.h / 2 + dy);
  draw();
});
const end = () => { drag = null; };
canvas.addEventListener('pointerup', end); canvas.addEventListener('pointercancel', end);
canvas.tabIndex = 0;
canvas.addEventListener('keydown', (e) => {
  const step = 0.02, moves = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step]};
  const m = moves[e.key]; if (!m) return;
  e.preventDefault();
  const [cx, cy] = centre(); cur.crop = fit(cx + m[0], cy + m[1]); draw();
});
$('#preview').addEventListener('error', () => { $('#ed-dpi').textContent += ' ·  ✕'; });
window.AlbumEditor = {open};
})();
