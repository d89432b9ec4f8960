//! The Billit API: wire types, client, webhook signatures, message classification, CDAR.
