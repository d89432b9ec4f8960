//! Database access: sea-orm entities, tenant-scoped repositories, the job queue.
