//! The portal's web server, background workers and the portal command.
