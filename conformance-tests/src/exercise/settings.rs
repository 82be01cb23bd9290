//! What `--exercise` may do, as the suite's options carry it.

/// What the exercise may do.
#[derive(Debug, Clone, Default)]
pub struct Exercise {
    /// Also call tools annotated `destructive` (skipped by default: their
    /// work may be real).
    pub destructive: bool,
}
