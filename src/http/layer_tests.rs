use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::http::header::RETRY_AFTER;
use ::http::{Request, Response, StatusCode};
use tower::{service_fn, ServiceExt};
use tower_layer::Layer;

use super::{Extracted, InviteLayer, RATELIMIT, RATELIMIT_POLICY};
use crate::ids::MemberId;
use crate::memory::engine::Engine;
use crate::outcome::Sent;
use crate::policy::{Policy, SpamPolicy};
use crate::request::InviteRequest;
use crate::time::{ManualClock, Timestamp};

/// `sender:recipient` in the body; anything else is rejected with a 400.
async fn extract(req: Request<String>) -> Extracted<String, String> {
    let ids = req
        .body()
        .split_once(':')
        .and_then(|(s, r)| Some((MemberId(s.parse().ok()?), MemberId(r.parse().ok()?))));
    match ids {
        Some((s, r)) => Ok((req, InviteRequest::new(s, r))),
        None => {
            let mut resp = Response::new("bad body".to_string());
            *resp.status_mut() = StatusCode::BAD_REQUEST;
            Err(resp)
        }
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

#[test]
fn allowed_reach_the_service_denied_are_answered_rejections_pass() {
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let mut policy = Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    };
    policy.free.daily = 1;
    let engine = Arc::new(
        Engine::builder()
            .policy(policy)
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let inner = service_fn(move |req: Request<String>| {
        let seen = Arc::clone(&seen);
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            let id = req
                .extensions()
                .get::<Sent>()
                .expect("the Sent is passed on")
                .id();
            Ok::<_, std::convert::Infallible>(Response::new(id.to_string()))
        }
    });
    let svc = InviteLayer::new(Arc::clone(&engine), extract)
        .clock(clock.clone())
        .layer(inner);
    let call = |body: &str| rt().block_on(svc.clone().oneshot(Request::new(body.to_string())));

    let ok = call("1:2").unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(!ok.body().is_empty());
    assert_eq!(
        ok.headers()[RATELIMIT],
        "\"daily\";r=0;t=86400, \"weekly\";r=299;t=604800, \"notes\";r=5"
    );
    assert!(ok.headers().contains_key(RATELIMIT_POLICY));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    clock.advance(Duration::from_millis(400));
    let denied = call("1:3").unwrap();
    assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
    // The slot frees 86_400 s after the first send, 0.4 s ago: 86_399.6 s, rounded up.
    assert_eq!(denied.headers()[RETRY_AFTER], "86400");
    assert!(denied.body().contains("\"code\":\"daily_limit\""));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "a denial never reaches the service"
    );

    let rejected = call("nonsense").unwrap();
    assert_eq!(rejected.status(), StatusCode::BAD_REQUEST);
    assert_eq!(rejected.body(), "bad body");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
