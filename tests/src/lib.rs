//! Cross-crate integration tests for tokenhop live in `tests/`; this library is empty.
