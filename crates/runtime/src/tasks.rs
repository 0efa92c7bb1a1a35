//! A service's own background work (a periodic sweep, say), started with the server
//! and told to stop at shutdown like the relay and the consumers.

use std::future::Future;
use std::pin::Pin;

/// Resolves when the service is told to stop.
pub type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;
type Task = Box<dyn FnOnce(Stop) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The service's background tasks, collected by [`crate::Service::tasks`].
#[derive(Default)]
pub struct Tasks {
    tasks: Vec<(String, Task)>,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.tasks.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Tasks {
    /// Runs `task` until it returns; it is given a future that resolves at shutdown
    /// and should finish its current step and return then.
    pub fn add<F, Fut>(&mut self, name: impl Into<String>, task: F) -> &mut Self
    where
        F: FnOnce(Stop) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks
            .push((name.into(), Box::new(move |stop| Box::pin(task(stop)))));
        self
    }

    pub(crate) fn into_tasks(self) -> Vec<(String, Task)> {
        self.tasks
    }
}
