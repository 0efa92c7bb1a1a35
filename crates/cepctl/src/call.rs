//! What every call to a service shares: its address, the bearer token, and its
//! answers turned into [`Failure`]s.

use std::time::Duration;

use tonic::Code;
use tonic::transport::{Channel, Endpoint};

use crate::failure::Failure;

/// A service as cepctl reaches it.
#[derive(Debug, Clone)]
pub struct Target {
    /// As messages name it: "beneficiaries".
    name: &'static str,
    url: String,
    endpoint: Endpoint,
}

impl Target {
    /// The service `name` at `addr`: `HOST:PORT` (as the local stack writes it) or a
    /// URL; `variable` is where the address came from, for the message of a bad one.
    pub fn new(name: &'static str, addr: &str, variable: &str) -> Result<Target, Failure> {
        let url = if addr.contains("://") {
            addr.to_owned()
        } else {
            format!("http://{addr}")
        };
        let endpoint = Endpoint::from_shared(url.clone()).ok().filter(|e| {
            let uri = e.uri();
            let authority = uri.authority().map_or("", |a| a.as_str());
            // after an IPv6 address's brackets, a colon announces the port
            let after_host = authority.rsplit_once(']').map_or(authority, |(_, r)| r);
            uri.host().is_some_and(|h| !h.is_empty())
                && (!after_host.contains(':') || uri.port_u16().is_some())
        });
        let endpoint = endpoint.ok_or_else(|| {
            Failure::new(
                Code::InvalidArgument,
                format!(
                    "the address of the {name} service {addr:?} is not valid ({variable}): \
                     expected HOST:PORT, e.g. 127.0.0.1:50051"
                ),
            )
        })?;
        Ok(Target {
            name,
            url,
            endpoint: endpoint.connect_timeout(Duration::from_secs(5)),
        })
    }

    /// A channel that connects at its first call, so that what cepctl checks by itself
    /// is refused before any call.
    pub fn channel(&self) -> Channel {
        self.endpoint.connect_lazy()
    }

    /// The service's refusal, or why the call did not reach it, in words.
    pub fn failure(&self, status: tonic::Status) -> anyhow::Error {
        Failure::from_status(&status, self.name, &self.url).into()
    }
}

/// The token of `--token` or `CEP_TOKEN`.
pub fn token(token: Option<String>) -> Result<String, Failure> {
    token.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
        Failure::new(
            Code::Unauthenticated,
            "Not signed in: pass --token or set CEP_TOKEN (see `cepctl dev-token`)",
        )
    })
}

/// `msg` with `authorization: Bearer token`.
pub fn request<T>(msg: T, token: &str) -> Result<tonic::Request<T>, Failure> {
    let mut r = tonic::Request::new(msg);
    let value = format!("Bearer {}", token.trim()).parse().map_err(|_| {
        Failure::new(
            Code::Unauthenticated,
            "Not signed in: the token holds characters a token never has",
        )
    })?;
    r.metadata_mut().insert("authorization", value);
    Ok(r)
}
