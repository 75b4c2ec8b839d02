-- What one user holds reserved and unsent (DRAFTD_RESERVED_BYTES_PER_USER) is
-- summed over its receiving uploads at every creation.
CREATE INDEX tus_uploads_owner_idx ON tus_uploads (owner_id) WHERE status = 'receiving';
