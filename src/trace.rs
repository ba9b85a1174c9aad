//! The span every decision runs in (feature `tracing`), on either engine.

/// The span a decision runs in (feature `tracing`), at debug level.
pub(crate) fn decision_span(req: &crate::request::InviteRequest) -> tracing::Span {
    tracing::debug_span!(
        "invite_decision",
        sender = req.sender().0,
        recipient = req.recipient().0,
        outcome = tracing::field::Empty,
        reason = tracing::field::Empty,
    )
}

/// Records the outcome and, for a denial, the reason's code on the decision's span.
pub(crate) fn record_decision(
    span: &tracing::Span,
    result: &Result<crate::outcome::Sent, crate::outcome::Denied>,
) {
    match result {
        Ok(_) => {
            span.record("outcome", "allowed");
        }
        Err(d) => {
            span.record("outcome", "denied");
            span.record("reason", d.reason().code());
            span.in_scope(|| {
                tracing::debug!(reason = d.reason().code(), retry_at = ?d.retry_at(), "{d}");
            });
        }
    }
}
