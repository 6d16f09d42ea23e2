//! host-proxy's cap on requests in flight to the enclave, against the in-process
//! stack with an enclave that answers slowly: requests past the cap are refused at
//! once, not queued. (The per-client limits against real processes:
//! `processes::limits`.)

use std::{
    net::Ipv4Addr,
    sync::Arc,
    time::{Duration, Instant},
};

use abi::control::{Request, RequestError, Response};
use enclave_app::control::RequestHandler;
use host_proxy::web::limits::LimitSettings;
use tests::stack::{InProcess, LoopbackClient};

/// Answers every request after a pause, with a refusal (so host-proxy relays it as
/// a 409): the in-flight cap's test counts who got that far.
struct Slow;

/// How long [`Slow`] takes: far longer than a refusal at the door.
const SLOW: Duration = Duration::from_secs(2);

impl RequestHandler for Slow {
    fn handle(
        &self,
        _request: Request,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Response, RequestError>> + Send + '_>> {
        Box::pin(async move {
            tokio::time::sleep(SLOW).await;
            Err(RequestError::refused("slow and unhelpful"))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_in_flight_cap_are_refused_at_once_not_queued() {
    let stack = InProcess::start_with_limits(
        Arc::new(Slow),
        16,
        LimitSettings {
            max_enclave_in_flight: 2,
            ..LimitSettings::default()
        },
    )
    .await;
    // Six clients on six addresses, so no per-client bucket is involved.
    let answers = futures_util::future::join_all((0..6u8).map(|i| async move {
        let client = LoopbackClient::new(Ipv4Addr::new(127, 0, 1, i + 1), stack.web);
        let started = Instant::now();
        let (status, _, body) = client.get("/api/attestation?nonce=00").await;
        (
            status,
            started.elapsed(),
            String::from_utf8_lossy(&body).into_owned(),
        )
    }))
    .await;
    let relayed: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 409).collect();
    let busy: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 503).collect();
    assert_eq!((relayed.len(), busy.len()), (2, 4), "{answers:?}");
    for (_, took, body) in &busy {
        assert!(*took < SLOW / 2, "a refusal waited {took:?}");
        assert!(body.contains("answering 2 requests already"), "{body}");
    }
    for (_, took, _) in &relayed {
        assert!(*took >= SLOW, "{took:?}");
    }
}
