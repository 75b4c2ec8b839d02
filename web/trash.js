// The trash from the page: a submitted course moved there and back from the
// success view, and a draft whose course is in the trash (read-only: its
// changes answer 409) restored where the person is.

const $ = (selector) => document.querySelector(selector);
const day = new Intl.DateTimeFormat('en', { dateStyle: 'medium' });

/** POST …/restore: the course back, unchanged with its files. */
export function restoreCourse(client, courseId) {
  return client.request('POST', `/api/v1/courses/${encodeURIComponent(courseId)}/restore`);
}

/** "Move to trash" and "Restore" of the success view, in place, focus kept on the next action. */
export function bindCourseTrash(client, courseId) {
  const [trash, restore, note, status] = ['#trash-course', '#restore-course', '#trash-note', '#trash-status'].map($);
  const show = (trashed, course) => {
    trash.hidden = trashed;
    restore.hidden = !trashed;
    note.hidden = !trashed;
    note.textContent = trashed ? `Moved to the trash. You can restore it until ${day.format(new Date(course.purgeAt))}.` : '';
  };
  trash.onclick = async () => {
    trash.disabled = true;
    try {
      const course = await client.request('DELETE', `/api/v1/courses/${encodeURIComponent(courseId)}`);
      show(true, course);
      status.textContent = 'The course is in the trash.';
      restore.focus();
    } catch (err) {
      status.textContent = `Could not move the course to the trash: ${err.message}`;
    } finally {
      trash.disabled = false;
    }
  };
  restore.onclick = async () => {
    restore.disabled = true;
    try {
      await restoreCourse(client, courseId);
      show(false);
      status.textContent = 'The course is restored.';
      trash.focus();
    } catch (err) {
      status.textContent = `Could not restore the course: ${err.message}`;
    } finally {
      restore.disabled = false;
    }
  };
}

/**
 * Shows or hides the offer to restore the course of the draft being edited,
 * while it is in the trash; restoring reloads the draft and saving goes on.
 */
export function showTrashedDraft(client) {
  const section = $('#trashed');
  const trashed = Boolean(client.draft?.courseTrashed);
  if (section.hidden === !trashed) return;
  section.hidden = !trashed;
  if (!trashed) return;
  const button = $('#trashed-restore');
  button.onclick = async () => {
    button.disabled = true;
    try {
      await restoreCourse(client, client.draft.courseId);
      await client.reload();
      $('#trashed-status').textContent = 'The course is restored; your changes are saved again.';
      document.querySelector('#topic')?.focus();
    } catch (err) {
      $('#trashed-status').textContent = `Could not restore the course: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  };
}
