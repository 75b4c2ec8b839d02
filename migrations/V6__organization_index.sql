-- An organization's courses: the per-organization storage quota sums their
-- files at every upload, and erasing an organization finds them.
CREATE INDEX courses_organization_idx ON courses (organization_id);
