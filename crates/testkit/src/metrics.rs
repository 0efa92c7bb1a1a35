//! Reading a service's Prometheus endpoint, as a scraper would.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The body of `GET /metrics` on `addr` (plain HTTP/1.0, as Prometheus scrapes it).
///
/// # Panics
///
/// When the endpoint cannot be reached or does not answer 200.
pub async fn scrape(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the metrics endpoint {addr}: {e}"));
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap_or_else(|e| panic!("cannot send the scrape to {addr}: {e}"));
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .unwrap_or_else(|e| panic!("cannot read the scrape of {addr}: {e}"));
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("malformed HTTP response from {addr}: {response}"));
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "the metrics endpoint {addr} answered {head}"
    );
    body.to_owned()
}

/// The value of the sample `name` (with its labels, if any, as they are rendered,
/// e.g. `cep_nats_connected{service="beneficiaries"}`) in a scrape, if present.
#[must_use]
pub fn sample(scrape: &str, name: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let bare = series.split('{').next()?;
        (series == name || bare == name).then(|| value.parse().ok())?
    })
}

/// Scrapes `addr` until the sample `name` has `value` or `within` has passed, and
/// returns the last value seen.
pub async fn wait_for_sample(
    addr: SocketAddr,
    name: &str,
    value: f64,
    within: Duration,
) -> Option<f64> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let seen = sample(&scrape(addr).await, name);
        if seen == Some(value) || tokio::time::Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::sample;

    #[test]
    fn a_sample_is_found_by_its_bare_name_or_its_labelled_series() {
        let scrape = "# HELP cep_nats_connected up\n\
                      cep_nats_connected{service=\"beneficiaries\"} 1\n\
                      cep_grpc_requests_total{code=\"0\",method=\"Get\",service=\"b\"} 3\n";
        assert_eq!(sample(scrape, "cep_nats_connected"), Some(1.0));
        assert_eq!(
            sample(
                scrape,
                "cep_grpc_requests_total{code=\"0\",method=\"Get\",service=\"b\"}"
            ),
            Some(3.0)
        );
        assert_eq!(sample(scrape, "cep_missing"), None);
    }
}
