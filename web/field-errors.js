// Field errors: each field's messages right under its input, tied to it by
// aria-describedby (before its hint, which stays tied) and aria-invalid.

/** "must be at least 3 characters" -> "Must be at least 3 characters." */
const sentence = (m) => m.charAt(0).toUpperCase() + m.slice(1) + (/[.!?]$/.test(m) ? '' : '.');

/**
 * Shows `all` (messages per field name) by the fields of `form`; a field with
 * none loses its error.
 * @param {HTMLFormElement} form
 * @param {string[]} names
 * @param {Object<string, string[]>} all
 */
export function renderErrors(form, names, all) {
  for (const name of names) {
    const box = name === 'formats' ? form.querySelector('#formats') : form.elements.namedItem(name).closest('.field');
    const input = name === 'formats' ? box : form.elements.namedItem(name);
    let p = box.querySelector(':scope > .field-error');
    const messages = all[name];
    const described = (input.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && id !== `${name}-error`);
    if (!messages?.length) {
      p?.remove();
      input.removeAttribute('aria-invalid');
      if (described.length) input.setAttribute('aria-describedby', described.join(' '));
      else input.removeAttribute('aria-describedby');
      continue;
    }
    if (!p) {
      p = Object.assign(document.createElement('p'), { className: 'field-error', id: `${name}-error` });
      if (name === 'formats') box.append(p);
      else input.after(p); // right under the input, above its hint
      // The error first, then the hint and anything else that describes the field.
      input.setAttribute('aria-describedby', [p.id, ...described].join(' '));
    }
    p.textContent = messages.map(sentence).join(' ');
    input.setAttribute('aria-invalid', 'true');
  }
}
