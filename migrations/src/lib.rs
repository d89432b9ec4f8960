//! Database migrations of the portal (sea-orm-migration).
