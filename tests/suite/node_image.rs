//! Integration tests: node image.
