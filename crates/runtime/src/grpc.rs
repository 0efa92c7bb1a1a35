//! What a service adds to the gRPC server: its services, each behind the token check.

use std::convert::Infallible;

use std::future::Future;

use cep_kit::auth::{self, AuthInterceptor};
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

/// The service's gRPC services, collected by [`crate::Service::grpc`]. Each is put
/// behind the [`AuthInterceptor`] here, so none can be served without a token check,
/// and reported as serving on `grpc.health.v1` once the server is up.
#[derive(Debug)]
pub struct Grpc {
    routes: Routes,
    auth: AuthInterceptor,
    names: Vec<&'static str>,
}

impl Grpc {
    pub(crate) fn new(routes: Routes, auth: AuthInterceptor) -> Self {
        Self {
            routes,
            auth,
            names: Vec::new(),
        }
    }

    /// Serves `service` (a generated `…Server::new(api)`), authenticated.
    pub fn add<S>(&mut self, service: S) -> &mut Self
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let routes = std::mem::take(&mut self.routes);
        self.routes = routes.add_service(InterceptedService::new(service, self.auth.clone()));
        self.names.push(S::NAME);
        self
    }

    pub(crate) fn into_parts(self) -> (Routes, Vec<&'static str>) {
        (self.routes, self.names)
    }
}

/// The body of an RPC: runs `call` with the verified caller and the request's message,
/// and maps its [`ApiError`](crate::ApiError) to a status, in one place.
///
/// # Errors
///
/// The status of the call's error (`UNAUTHENTICATED` when no caller was verified).
pub async fn handle<T, R, F>(
    request: Request<T>,
    call: impl FnOnce(auth::Caller, T) -> F,
) -> Result<Response<R>, Status>
where
    F: Future<Output = Result<R, crate::ApiError>>,
{
    let caller = auth::caller(&request)
        .map_err(crate::ApiError::from)?
        .clone();
    Ok(Response::new(call(caller, request.into_inner()).await?))
}

/// The caller's own credentials, to ask another service on the caller's behalf: the
/// caller's roles and scope apply there too, and that service's access log names the
/// caller. The token must carry that service's audience.
#[derive(Clone)]
pub struct OnBehalf {
    authorization: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    peer: Option<String>,
    user_agent: Option<String>,
}

impl std::fmt::Debug for OnBehalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnBehalf").finish_non_exhaustive()
    }
}

impl OnBehalf {
    /// The credentials `request` came with (none: an unauthenticated call, which the
    /// token check has already refused).
    pub fn of<T>(request: &Request<T>) -> Option<Self> {
        let authorization = request.metadata().get("authorization")?.clone();
        let user_agent = request
            .metadata()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(200).collect());
        Some(Self {
            authorization,
            peer: request.remote_addr().map(|a| a.ip().to_string()),
            user_agent,
        })
    }

    /// `message` as a request carrying the caller's credentials.
    pub fn request<M>(&self, message: M) -> Request<M> {
        let mut request = Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        request
    }

    /// The caller's address, as the server saw it.
    pub fn peer(&self) -> Option<&str> {
        self.peer.as_deref()
    }

    /// The caller's user agent, cut to 200 characters.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }
}

/// Like [`handle`], with the caller's credentials for calls made on their behalf.
///
/// # Errors
///
/// The status of the call's error.
pub async fn handle_on_behalf<T, R, F>(
    request: Request<T>,
    call: impl FnOnce(auth::Caller, OnBehalf, T) -> F,
) -> Result<Response<R>, Status>
where
    F: Future<Output = Result<R, crate::ApiError>>,
{
    let caller = auth::caller(&request)
        .map_err(crate::ApiError::from)?
        .clone();
    let on_behalf =
        OnBehalf::of(&request).ok_or_else(|| crate::ApiError::from(auth::AuthError::Missing))?;
    Ok(Response::new(
        call(caller, on_behalf, request.into_inner()).await?,
    ))
}

/// A section naming another service this one calls on its callers' behalf:
/// `[journeys] endpoint = "http://127.0.0.1:50052"`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSettings {
    pub endpoint: String,
}

impl PeerSettings {
    /// Refuses an endpoint that is not an http(s) URL, naming `key`.
    ///
    /// # Errors
    ///
    /// The endpoint's refusal.
    pub fn validate(&self, key: &str) -> Result<(), cep_kit::settings::SettingsError> {
        let e = &self.endpoint;
        if (e.starts_with("http://") || e.starts_with("https://"))
            && tonic::transport::Endpoint::from_shared(e.clone()).is_ok()
        {
            return Ok(());
        }
        Err(cep_kit::settings::SettingsError::invalid(
            key,
            "an http:// or https:// address",
        ))
    }

    /// A channel connected at the first call (5 s to connect, 30 s per call).
    ///
    /// # Errors
    ///
    /// An endpoint that is not a URI.
    pub fn channel(&self) -> anyhow::Result<tonic::transport::Channel> {
        Ok(
            tonic::transport::Endpoint::from_shared(self.endpoint.clone())?
                .connect_timeout(std::time::Duration::from_secs(5))
                .timeout(std::time::Duration::from_secs(30))
                .connect_lazy(),
        )
    }
}

/// What a call to another service on the caller's behalf answered, as this service's
/// error: NOT_FOUND stays NOT_FOUND (the record, or one out of the caller's scope
/// there); a refusal of the credentials says the token must name that service's
/// audience; anything else is that service unavailable.
#[must_use]
pub fn peer_error(service: &str, s: &Status) -> crate::ApiError {
    match s.code() {
        tonic::Code::NotFound => crate::ApiError::NotFound(format!("{service}: {}", s.message())),
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => {
            crate::ApiError::Unavailable(format!(
                "{service} refused the caller's credentials (the token must name audience {service}): {}",
                s.message()
            ))
        }
        _ => crate::ApiError::Unavailable(format!("{service} did not answer: {}", s.message())),
    }
}
