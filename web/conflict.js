// Same-field conflicts: another tab or device saved a field this tab was typing
// in. The field keeps the person's text; the other version is shown beside it
// with "Keep mine" (saved over the other) and "Use theirs" (put in the field).

/** A value as the person reads it (formats are a list). */
const asText = (value) => (Array.isArray(value) ? value.join(', ') : String(value ?? ''));

/** The label a field has on the page, for notes and buttons. */
export function fieldLabel(form, name) {
  const el = name === 'formats' ? form.querySelector('#formats legend') : form.querySelector(`label[for="${name}"]`);
  return (el?.firstChild?.textContent ?? name).trim();
}

function conflictBox(form, name, { mine, theirs }, onChoose) {
  const id = `${name}-conflict`;
  const box = document.createElement('div');
  box.className = 'conflict';
  box.id = id;
  box.setAttribute('role', 'group');
  box.setAttribute('aria-labelledby', `${id}-title`);
  const title = Object.assign(document.createElement('p'), { id: `${id}-title`, className: 'conflict-title' });
  const other = Object.assign(document.createElement('p'), { className: 'conflict-theirs' });
  const label = fieldLabel(form, name);
  const keep = Object.assign(document.createElement('button'), { type: 'button', className: 'button secondary', textContent: 'Keep mine' });
  const use = Object.assign(document.createElement('button'), { type: 'button', className: 'button secondary', textContent: 'Use theirs' });
  keep.dataset.choice = 'mine';
  use.dataset.choice = 'theirs';
  keep.onclick = () => onChoose(name, 'mine');
  use.onclick = () => onChoose(name, 'theirs');
  box.append(title, other, keep, use);
  box.update = (c) => {
    title.textContent = `Another tab or device saved a different ${label}:`;
    other.textContent = c.theirs === null ? '(empty)' : asText(c.theirs);
    box.dataset.mine = asText(c.mine);
  };
  box.update({ mine, theirs });
  return box;
}

/**
 * Shows a box by each contested field of `client.conflicts`, removes those
 * resolved. `onChoose(name, choice)` resolves one.
 */
export function renderConflicts(form, client, onChoose) {
  const conflicts = client.conflicts;
  for (const box of form.querySelectorAll('.conflict')) {
    const name = box.id.replace(/-conflict$/, '');
    if (!conflicts[name]) {
      const input = name === 'formats' ? form.querySelector('#formats') : form.elements.namedItem(name);
      input?.setAttribute('aria-describedby', (input.getAttribute('aria-describedby') || '').replace(box.id, '').trim());
      if (!input?.getAttribute('aria-describedby')) input?.removeAttribute('aria-describedby');
      box.remove();
    }
  }
  for (const [name, contest] of Object.entries(conflicts)) {
    const existing = form.querySelector(`#${name}-conflict`);
    if (existing) {
      existing.update(contest);
      continue;
    }
    const container = name === 'formats' ? form.querySelector('#formats') : form.elements.namedItem(name).closest('.field');
    const input = name === 'formats' ? container : form.elements.namedItem(name);
    const box = conflictBox(form, name, contest, onChoose);
    container.append(box);
    input.setAttribute('aria-describedby', `${input.getAttribute('aria-describedby') || ''} ${box.id}`.trim());
  }
}

/** The note that says which fields are contested. */
export function conflictText(form, client) {
  const names = Object.keys(client.conflicts);
  if (!names.length) return null;
  const labels = names.map((n) => `“${fieldLabel(form, n)}”`).join(', ');
  return `Another tab or device changed ${labels} while you were editing it. Your text is not saved over theirs until you choose: Keep mine or Use theirs, beside the field.`;
}
