// The resume offer: on another device, or in a tab whose session storage is gone,
// the user's other live drafts and the courses in their trash, shown in a tray
// at the bottom of the window (it never pushes the form down) with a way back to
// each. Choosing nothing is starting anew: the page's own draft opens on the
// first input. A draft whose course is in the trash is offered there, by its
// topic, rather than under Continue (it cannot be changed until restored).

const SHOWN = 5;
const when = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const day = new Intl.DateTimeFormat('en', { dateStyle: 'medium' });

/** "5 minutes ago", "yesterday". */
export function ago(iso, now = Date.now()) {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  for (const [unit, size] of [['day', 86400], ['hour', 3600], ['minute', 60]]) {
    if (Math.abs(seconds) >= size) return when.format(Math.round(seconds / size), unit);
  }
  return 'just now';
}

/** A few of a draft's fields, for a line under its topic. */
function details(form) {
  const parts = [];
  if (form.language) parts.push(`in ${form.language}`);
  if (form.estimatedLessons) parts.push(`${form.estimatedLessons} lessons`);
  if (form.targetAudience) parts.push(`for ${form.targetAudience}`);
  return parts.join(' · ');
}

/**
 * The user's drafts worth resuming (anything written, or a course made) other
 * than `currentId`, and the trash.
 * @param {{request: Function}} client  a DraftClient
 */
export async function findResumable(client, currentId) {
  const [drafts, trash] = await Promise.all([
    client.request('GET', '/api/v1/drafts?include=formData&limit=100'),
    client.request('GET', '/api/v1/courses?trashed=true&limit=5').catch(() => ({ items: [] })),
  ]);
  const worth = (d) => d.id !== currentId && d.status !== 'submitted' && !d.courseTrashed
    && (Object.keys(d.formData || {}).length > 0 || d.courseId);
  const byId = new Map(drafts.items.map((d) => [d.id, d]));
  const named = trash.items.map((course) => {
    const draft = byId.get(course.draftSessionId);
    return { ...course, name: courseName(course, draft), draft: draft && draft.status !== 'submitted' ? draft : null };
  });
  return { drafts: drafts.items.filter(worth).slice(0, SHOWN), trash: named };
}

/**
 * A trashed course by its topic: the draft's (a course made by its first upload
 * keeps the title it had then), else its title; one with neither by its date.
 */
function courseName(course, draft) {
  const topic = draft?.formData?.topic || draft?.topic;
  if (topic) return topic;
  if (course.title && course.title !== 'Untitled course') return course.title;
  return `Course without a topic, begun ${day.format(new Date(course.createdAt))}`;
}

function item(list, { title, meta, excerpt, action, label }) {
  const li = document.createElement('li');
  li.className = 'resume-item';
  li.innerHTML = '<div class="resume-text"><strong class="resume-title"></strong><span class="resume-meta"></span></div><button type="button" class="button"></button>';
  li.querySelector('.resume-title').textContent = title;
  li.querySelector('.resume-meta').textContent = meta;
  if (excerpt) {
    const p = Object.assign(document.createElement('p'), { className: 'resume-excerpt', textContent: excerpt });
    li.querySelector('.resume-text').append(p);
  }
  const button = li.querySelector('button');
  button.textContent = action;
  button.setAttribute('aria-label', label);
  list.append(li);
  return button;
}

/**
 * Fills the offer's section and shows it, if there is anything to offer.
 * @param {HTMLElement} section  holds #resume-drafts, #resume-trash, #resume-dismiss, #resume-status
 * @param {{drafts: object[], trash: object[]}} found
 * @param {{onContinue: (id: string) => Promise<void>, onRestore: (id: string) => Promise<void>}} actions
 */
export function showResumable(section, found, { onContinue, onRestore }) {
  const $ = (s) => section.querySelector(s);
  const status = $('#resume-status');
  const drafts = $('#resume-drafts');
  const trash = $('#resume-trash');
  drafts.replaceChildren();
  trash.replaceChildren();
  for (const draft of found.drafts) {
    const form = draft.formData || {};
    const title = form.topic || 'Untitled';
    const saved = ago(draft.updatedAt);
    const button = item(drafts, {
      title,
      meta: [`Saved ${saved}`, details(form)].filter(Boolean).join(' · '),
      excerpt: form.description?.slice(0, 140),
      action: 'Continue',
      label: `Continue “${title}”, saved ${saved}`,
    });
    button.onclick = async () => {
      button.disabled = true;
      status.textContent = `Opening “${title}”…`;
      try {
        await onContinue(draft.id);
        section.hidden = true;
      } catch (err) {
        button.disabled = false;
        status.textContent = `Could not open “${title}”: ${err.message}`;
      }
    };
  }
  for (const course of found.trash) trashItem(trash, course, { status, onContinue, onRestore, section });
  $('#resume-drafts-box').hidden = !found.drafts.length;
  $('#resume-trash-box').hidden = !found.trash.length;
  section.hidden = !found.drafts.length && !found.trash.length;
  section.querySelector('#resume-dismiss').onclick = () => {
    section.hidden = true;
    document.querySelector('#topic')?.focus();
  };
}

/** One course of the trash: Restore in place, then Continue its draft if it has one. */
function trashItem(list, course, { status, onContinue, onRestore, section }) {
  const name = course.name;
  const files = course.fileCount ? ` · ${course.fileCount} file${course.fileCount === 1 ? '' : 's'}` : '';
  const button = item(list, {
    title: name,
    meta: `Deleted ${ago(course.trashedAt)} · restorable until ${day.format(new Date(course.purgeAt))}${files}`,
    action: 'Restore',
    label: `Restore “${name}”`,
  });
  const li = button.closest('li');
  button.onclick = async () => {
    button.disabled = true;
    try {
      await onRestore(course.id);
      li.dataset.restored = 'true';
      li.querySelector('.resume-meta').textContent = `Restored ${ago(new Date().toISOString())}${files}`;
      status.textContent = `“${name}” is back in your courses.`;
      if (course.draft) {
        // Its draft is editable again: offer it right here, focus on the offer.
        button.textContent = 'Continue';
        button.setAttribute('aria-label', `Continue “${name}”`);
        button.disabled = false;
        button.onclick = async () => {
          button.disabled = true;
          try {
            await onContinue(course.draft.id);
            section.hidden = true;
          } catch (err) {
            button.disabled = false;
            status.textContent = `Could not open “${name}”: ${err.message}`;
          }
        };
        button.focus();
      } else {
        const title = li.querySelector('.resume-title');
        title.tabIndex = -1;
        button.remove();
        title.focus();
      }
    } catch (err) {
      button.disabled = false;
      status.textContent = `Could not restore “${name}”: ${err.message}`;
    }
  };
}
