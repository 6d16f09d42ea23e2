//! A stream wrapper that counts the bytes each way and stamps the last activity, for
//! the forwarder's idle timeout, its log line and its metrics.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use metrics::Counter;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One connection's byte counts and last activity, shared by its two streams and
/// read after the copy ends however it ends (so counts survive an idle close).
pub(super) struct Traffic {
    started: tokio::time::Instant,
    /// Milliseconds from `started` to the last byte read or written either way.
    last_active_ms: AtomicU64,
    pub(super) to_upstream: AtomicU64,
    pub(super) from_upstream: AtomicU64,
    to_upstream_metric: Counter,
    from_upstream_metric: Counter,
}

impl Traffic {
    pub(super) fn new(label: &Arc<str>) -> Self {
        Self {
            started: tokio::time::Instant::now(),
            last_active_ms: AtomicU64::new(0),
            to_upstream: AtomicU64::new(0),
            from_upstream: AtomicU64::new(0),
            to_upstream_metric: metrics::counter!(
                "egress_bytes_total",
                "route" => Arc::clone(label),
                "direction" => "to_upstream"
            ),
            from_upstream_metric: metrics::counter!(
                "egress_bytes_total",
                "route" => Arc::clone(label),
                "direction" => "from_upstream"
            ),
        }
    }

    fn touch(&self) {
        self.last_active_ms
            .store(millis(self.started.elapsed()), Ordering::Relaxed);
    }

    pub(super) fn idle_deadline(&self, idle_timeout: Duration) -> tokio::time::Instant {
        self.started
            + Duration::from_millis(self.last_active_ms.load(Ordering::Relaxed))
            + idle_timeout
    }
}

/// Which end of the connection a [`Metered`] stream is.
#[derive(Clone, Copy)]
pub(super) enum Side {
    /// The enclave's stream: bytes written to it came from the upstream.
    Client,
    /// The upstream's stream: bytes written to it go to the upstream.
    Upstream,
}

/// A stream that records activity on every read and write and counts the bytes
/// written to it.
pub(super) struct Metered<'a, S> {
    pub(super) inner: S,
    pub(super) traffic: &'a Traffic,
    pub(super) side: Side,
}

impl<S> Metered<'_, S> {
    fn wrote(&self, n: usize) {
        if n == 0 {
            return;
        }
        let n = n as u64;
        let (count, metric) = match self.side {
            Side::Upstream => (&self.traffic.to_upstream, &self.traffic.to_upstream_metric),
            Side::Client => (
                &self.traffic.from_upstream,
                &self.traffic.from_upstream_metric,
            ),
        };
        count.fetch_add(n, Ordering::Relaxed);
        metric.increment(n);
        self.traffic.touch();
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.traffic.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<'_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            this.wrote(n);
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            this.wrote(n);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
