//! A local stand-in for Billit, for development, demo and tests.
