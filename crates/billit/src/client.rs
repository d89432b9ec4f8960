//! The Billit API client (being written).
