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
