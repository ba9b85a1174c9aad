//! The decision span (feature `tracing`): named, at debug level, with the outcome and
//! the denial's reason recorded.
#![cfg(feature = "tracing")]

use std::io::Write;
use std::sync::{Arc, Mutex};

use invite_limiter::*;

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured(level: tracing::Level, f: impl FnOnce()) -> String {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = out.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_denial_is_logged_in_its_decision_span_with_the_reason() {
    let engine = Engine::builder().build().unwrap();
    let log = captured(tracing::Level::DEBUG, || {
        engine
            .send(InviteRequest::new(MemberId(7), MemberId(7)))
            .unwrap_err();
        engine
            .send(InviteRequest::new(MemberId(7), MemberId(8)))
            .unwrap();
    });
    let line = log
        .lines()
        .find(|l| l.contains("invite_decision"))
        .unwrap_or_else(|| panic!("no decision span in {log:?}"));
    assert!(line.contains("DEBUG"), "{line}");
    assert!(line.contains("reason=\"self_invite\""), "{line}");
    assert!(line.contains("sender=7"), "{line}");
    assert_eq!(log.lines().count(), 1, "allowed sends log nothing: {log}");
}

#[test]
fn nothing_is_logged_above_debug() {
    let engine = Engine::builder().build().unwrap();
    let log = captured(tracing::Level::INFO, || {
        engine
            .send(InviteRequest::new(MemberId(7), MemberId(7)))
            .unwrap_err();
    });
    assert!(log.is_empty(), "{log}");
}
