//! Tests for blueprint loading.
