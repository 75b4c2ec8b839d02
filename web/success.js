// The success view: the submitted course by its address (a link, in words) and
// its files, with a way to move it to the trash and back (trash.js).
import { bindCourseTrash } from '/trash.js';

const $ = (selector) => document.querySelector(selector);

/** "1.2 MB". */
export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The course's address on the platform: the template of #success's data-course-url. */
function courseUrl(slug) {
  const template = $('#success').dataset.courseUrl || '/courses/{slug}';
  return new URL(template.replace('{slug}', encodeURIComponent(slug)), location.href);
}

function showLink(slug) {
  const link = $('#course-link');
  const url = courseUrl(slug);
  link.href = url.href;
  const words = `${url.host}${decodeURIComponent(url.pathname)}`;
  const at = words.lastIndexOf(slug);
  const slugEl = Object.assign(document.createElement('span'), { id: 'course-slug', textContent: slug });
  link.replaceChildren(at < 0 ? words : words.slice(0, at), slugEl, at < 0 ? '' : words.slice(at + slug.length));
}

async function showCourseFiles(client, courseId) {
  const list = $('#course-files');
  let files = [];
  try {
    files = (await client.request('GET', `/api/v1/courses/${encodeURIComponent(courseId)}`)).files || [];
  } catch {
    /* the list is a convenience: the course holds its files either way */
  }
  list.replaceChildren(...files.map((file) => {
    const li = document.createElement('li');
    const name = Object.assign(document.createElement('span'), { className: 'file-name', textContent: file.originalName });
    li.append(name, ` (${formatSize(file.sizeBytes)})`);
    return li;
  }));
  if (!files.length) list.replaceChildren(Object.assign(document.createElement('li'), { textContent: 'No files' }));
}

let shownFor = null;

/** Fills the success view for the client's submitted draft; shows it the first time. */
export function showSuccess(client, { fields, form }) {
  const { courseSlug, courseId, formData } = client.draft;
  $('#success-topic').textContent = formData?.topic || client.formData.topic || 'Untitled course';
  if (courseSlug) showLink(courseSlug);
  fields.disabled = true;
  if (courseId && shownFor !== courseId) {
    shownFor = courseId;
    showCourseFiles(client, courseId);
    bindCourseTrash(client, courseId);
  }
  if ($('#success').hidden) {
    $('#success').hidden = false;
    form.hidden = true;
    $('.intro').hidden = true;
    document.title = 'Course submitted · draftd';
    $('#success').focus();
  }
}
