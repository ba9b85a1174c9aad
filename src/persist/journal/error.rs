//! Why the journal takes no more records.

use std::fmt;
use std::io;
use std::sync::Arc;

/// Why journaling is not available: the engine has no persistence directory, or its
/// journal writer failed (a full or failing disk). Once the writer has failed,
/// decisions go on in memory but are no longer durable.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum JournalError {
    /// The engine was not opened with a persistence directory.
    NotPersistent,
    /// The journal writer has stopped (the engine is shutting down).
    Stopped,
    /// Appending a batch to the journal file, or syncing it, failed.
    Append(Arc<io::Error>),
    /// Reading the length of a new journal file failed after a checkpoint.
    NewFile(Arc<io::Error>),
}

impl JournalError {
    /// The operating system's error behind this one, if there is one.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            JournalError::Append(e) | JournalError::NewFile(e) => Some(e),
            JournalError::NotPersistent | JournalError::Stopped => None,
        }
    }
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::NotPersistent => {
                f.write_str("the engine was not opened with a persistence directory")
            }
            JournalError::Stopped => f.write_str("the journal writer has stopped"),
            JournalError::Append(e) => write!(f, "appending to the journal failed: {e}"),
            JournalError::NewFile(e) => write!(f, "reading the journal's length failed: {e}"),
        }
    }
}

impl std::error::Error for JournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.io_error().map(|e| e as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn the_disk_error_is_the_source() {
        let e = JournalError::Append(Arc::new(io::Error::from(io::ErrorKind::StorageFull)));
        assert_eq!(
            e.io_error().map(io::Error::kind),
            Some(io::ErrorKind::StorageFull)
        );
        assert!(e.source().is_some());
        assert!(e.to_string().starts_with("appending to the journal failed"));
        assert!(JournalError::NotPersistent.source().is_none());
    }
}
