// The Weights tab's network picture (tinylm_app/weights_tab.py): drag circles to move them; click
// (or tap) a context token, then a next token, to connect them: the server gets a 'submit' event
// with {position, to_id}.
let picked = null, drag = null;
const point = (svg, e) => { const p = svg.createSVGPoint(); p.x = e.clientX; p.y = e.clientY;
                            return p.matrixTransform(svg.getScreenCTM().inverse()); };
const hint = (text) => { const h = element.querySelector('.pic-hint'); if (h) h.textContent = text; };
function redraw(svg) {
  const r = +svg.dataset.r;
  svg.querySelectorAll('path.edge').forEach(path => {
    const a = svg.querySelector(`g.node[data-side="in"][data-pos="${path.dataset.in}"]`);
    const b = svg.querySelector(`g.node[data-side="out"][data-id="${path.dataset.out}"]`);
    if (!a || !b) return;
    const x1 = +a.dataset.x + r, y1 = +a.dataset.y, x2 = +b.dataset.x - r, y2 = +b.dataset.y, mid = (x1 + x2) / 2;
    path.setAttribute('d', `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`);
  });
}
function choose(node) {
  if (node.dataset.side === 'in') {
    element.querySelectorAll('g.node.picked').forEach(n => n.classList.remove('picked'));
    if (picked === node) { picked = null; hint(''); return; }
    picked = node; node.classList.add('picked');
    hint(`from ${node.dataset.label}: now click a next token on the right to connect them`);
  } else if (picked && picked.isConnected) {
    hint(`connecting ${picked.dataset.label} → ${node.dataset.label}…`);
    trigger('submit', {position: +picked.dataset.pos, to_id: +node.dataset.id});
    picked.classList.remove('picked'); picked = null;
  } else {
    hint('first click a context token on the left, then a next token on the right');
  }
}
element.addEventListener('pointerdown', e => {
  const node = e.target.closest && e.target.closest('g.node');
  if (!node) return;
  const svg = node.ownerSVGElement, p = point(svg, e);
  drag = {node, svg, x0: p.x, y0: p.y, x: +node.dataset.x, y: +node.dataset.y, moved: false};
  e.preventDefault();
});
element.addEventListener('pointermove', e => {
  if (!drag) return;
  const p = point(drag.svg, e), dx = p.x - drag.x0, dy = p.y - drag.y0;
  if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
  if (!drag.moved) return;
  drag.node.dataset.x = drag.x + dx; drag.node.dataset.y = drag.y + dy;
  drag.node.setAttribute('transform', `translate(${drag.x + dx},${drag.y + dy})`);
  redraw(drag.svg);
});
// ctrl+click is a right click on a Mac: no context menu over the circles
element.addEventListener('contextmenu', e => { if (e.target.closest && e.target.closest('g.node')) e.preventDefault(); });
window.addEventListener('pointerup', () => {
  if (!drag) return;
  const {node, moved} = drag;
  drag = null;
  if (!moved) choose(node);
});
