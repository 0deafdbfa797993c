//! Unit tests of the catalog on the layout backend.
