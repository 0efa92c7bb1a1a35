//! The NATS connection of a service: connected in the background, reconnected
//! forever, every change of state logged and reported.

use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};

use crate::BusError;

/// Opens the service's NATS connection without waiting for the server: the client
/// connects in the background and reconnects for ever after a loss.
///
/// Each connection and loss is logged (with the server's URL, never a payload) and
/// reported to `on_change` (`true` once connected, `false` once lost), for a gauge or
/// a readiness signal. While disconnected the client would queue publishes and send
/// them on reconnection, however long after; the [`crate::Relay`] therefore does not
/// publish until [`Client::connection_state`] says connected again.
///
/// # Errors
///
/// [`BusError::Connect`] when `url` is not a valid NATS address.
pub async fn connect(
    url: &str,
    name: &str,
    on_change: impl Fn(bool) + Send + Sync + 'static,
) -> Result<Client, BusError> {
    let on_change = Arc::new(on_change);
    let server = url.to_owned();
    ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .reconnect_delay_callback(reconnect_delay)
        .event_callback(move |event| {
            let on_change = Arc::clone(&on_change);
            let server = server.clone();
            async move {
                match event {
                    Event::Connected => {
                        tracing::info!(server = %server, "nats connected");
                        on_change(true);
                    }
                    Event::Disconnected => {
                        tracing::warn!(server = %server, "nats connection lost, reconnecting");
                        on_change(false);
                    }
                    Event::Closed => {
                        tracing::info!(server = %server, "nats connection closed");
                        on_change(false);
                    }
                    other => tracing::info!(server = %server, event = %other, "nats event"),
                }
            }
        })
        .connect(url)
        .await
        .map_err(|source| BusError::Connect {
            server: url.to_owned(),
            source: Box::new(source),
        })
}

/// The pause before reconnection attempt `attempts`: none for the first, then doubling
/// from 50 ms up to 1 s, so that a restarted server is found again within a second.
fn reconnect_delay(attempts: usize) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(attempts - 2).unwrap_or(u32::MAX).min(5);
    (Duration::from_millis(50) * 2u32.pow(doublings)).min(MAX_RECONNECT_DELAY)
}

const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::reconnect_delay;

    #[test]
    fn reconnection_is_immediate_then_doubles_up_to_a_second() {
        let delays: Vec<Duration> = (1..=8).map(reconnect_delay).collect();
        let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 50, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(reconnect_delay(usize::MAX), Duration::from_secs(1));
    }
}
