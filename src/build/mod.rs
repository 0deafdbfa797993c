//! Executes a build plan into an image.
