//! What a service reads from the bus: durable consumers started once NATS is reached.

use std::future::Future;
use std::pin::Pin;

use async_nats::jetstream;
use cep_bus::{Consumer, ConsumerSpec, Handler};
use cep_kit::settings::BusSettings;
use sqlx::PgPool;

type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;
type Task = Box<
    dyn FnOnce(
            PgPool,
            jetstream::Context,
            BusSettings,
            Stop,
        ) -> Pin<Box<dyn Future<Output = ()> + Send>>
        + Send,
>;

/// The service's consumers, collected by [`crate::Service::consumers`].
#[derive(Default)]
pub struct Consumers {
    tasks: Vec<(String, Task)>,
}

impl std::fmt::Debug for Consumers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.tasks.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Consumers {
    /// Applies the messages `spec` selects with `handler`, each in a transaction that
    /// also records it in the inbox; prefetch and commit attempts from `[bus]`.
    pub fn add<H: Handler + 'static>(&mut self, spec: ConsumerSpec, handler: H) -> &mut Self {
        let name = format!("{}:{}", spec.stream, spec.durable_name);
        let task: Task = Box::new(move |pool, js, bus, stop| {
            Box::pin(async move {
                let consumer = Consumer::new(pool, js, spec)
                    .prefetch(bus.consumer_prefetch)
                    .commit_attempts(bus.consumer_commit_attempts);
                if let Err(e) = consumer.run(handler, stop).await {
                    tracing::error!(error = %e, "consumer stopped");
                }
            })
        });
        self.tasks.push((name, task));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    pub(crate) fn into_tasks(self) -> Vec<(String, Task)> {
        self.tasks
    }
}
